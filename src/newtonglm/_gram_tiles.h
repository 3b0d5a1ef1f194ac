/* Part of newtonglm's compiled kernel (_gram.c): the narrow Gram, 4 x 4 tiles of the result
   in vector registers over 2048-row chunks of a column-major block (a row-major block is
   transposed chunk by chunk first), W applied on the fly. */

#ifndef NEWTONGLM__GRAM_TILES_H
#define NEWTONGLM__GRAM_TILES_H

#define CHUNK 2048

/* G[j+a, k+b] += Σ_i w_i A[i, j+a] A[i, k+b] for a < NJ, b < NK over the chunk's r rows. */
#define TILE(NJ, NK)                                                                         \
    do {                                                                                     \
        v8d c[NJ][NK];                                                                       \
        memset(c, 0, sizeof c);                                                              \
        for (Py_ssize_t i = 0; i < r8; i += 8) {                                             \
            v8d wv = load8(w + i), x[NJ], y[NK];                                             \
            for (int a = 0; a < NJ; a++)                                                     \
                x[a] = wv * load8(A + (j + a) * lda + i);                                    \
            for (int b = 0; b < NK; b++)                                                     \
                y[b] = load8(A + (k + b) * lda + i);                                         \
            for (int a = 0; a < NJ; a++)                                                     \
                for (int b = 0; b < NK; b++)                                                 \
                    c[a][b] += x[a] * y[b];                                                  \
        }                                                                                    \
        for (int a = 0; a < NJ; a++)                                                         \
            for (int b = 0; b < NK; b++) {                                                   \
                double t = hsum(c[a][b]);                                                    \
                for (Py_ssize_t i = r8; i < r; i++)                                          \
                    t += w[i] * A[(j + a) * lda + i] * A[(k + b) * lda + i];                 \
                G[(o + k + b) * ldg + o + j + a] += t;                                       \
            }                                                                                \
    } while (0)

/* One chunk of r rows: A, w and u point at its first row. */
INLINE void chunk(const double *A, Py_ssize_t lda, Py_ssize_t r, Py_ssize_t p,
                  const double *w, const double *u, double *G, Py_ssize_t ldg, double *S, int o)
{
    Py_ssize_t r8 = r & ~(Py_ssize_t)7;
    for (Py_ssize_t j = 0; G && j < p; j += 4) {
        int nj = p - j < 4 ? (int)(p - j) : 4;
        for (Py_ssize_t k = j; k < p; k += 4) {
            int nk = p - k < 4 ? (int)(p - k) : 4;
            /* Only the last tile row and column can be narrower than 4; nj <= nk there. */
            switch (nj * 8 + nk) {
            case 4 * 8 + 4: TILE(4, 4); break;
            case 4 * 8 + 3: TILE(4, 3); break;
            case 4 * 8 + 2: TILE(4, 2); break;
            case 4 * 8 + 1: TILE(4, 1); break;
            case 3 * 8 + 3: TILE(3, 3); break;
            case 2 * 8 + 2: TILE(2, 2); break;
            default: TILE(1, 1); break;
            }
        }
    }
    /* The intercept's row (Σ w, Σ w a_j) and the score (Σ u, Σ u a_j); G or S may be NULL. */
    if (!G)
        w = NULL;
    if (!S)
        u = NULL;
    if (!w && !u)
        return;
    for (Py_ssize_t j = -1; j < p; j++) {
        if (j < 0 && !o)
            continue;
        v8d sw = {0}, su = {0};
        double tw = 0.0, tu = 0.0;
        if (j < 0) {
            for (Py_ssize_t i = 0; i < r8; i += 8) {
                if (w)
                    sw += load8(w + i);
                if (u)
                    su += load8(u + i);
            }
            for (Py_ssize_t i = r8; i < r; i++) {
                if (w)
                    tw += w[i];
                if (u)
                    tu += u[i];
            }
        } else {
            const double *a = A + j * lda;
            for (Py_ssize_t i = 0; i < r8; i += 8) {
                v8d av = load8(a + i);
                if (w)
                    sw += av * load8(w + i);
                if (u)
                    su += av * load8(u + i);
            }
            for (Py_ssize_t i = r8; i < r; i++) {
                if (w)
                    tw += a[i] * w[i];
                if (u)
                    tu += a[i] * u[i];
            }
        }
        Py_ssize_t col = o + j; /* the intercept is column 0 when o == 1 and j == -1 */
        if (o && w)
            G[col * ldg] += hsum(sw) + tw;
        if (u)
            S[col] += hsum(su) + tu;
    }
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
static void wgram(const double *A, Py_ssize_t lda, Py_ssize_t m, Py_ssize_t p, const double *w,
                  const double *u, double *G, Py_ssize_t ldg, double *S, int intercept)
{
    for (Py_ssize_t s = 0; s < m; s += CHUNK) {
        Py_ssize_t r = m - s < CHUNK ? m - s : CHUNK;
        chunk(A + s, lda, r, p, w + s, u ? u + s : NULL, G, ldg, S, intercept);
    }
}

/* Row-major blocks (a C-ordered X): each chunk of rows is first transposed into the
   column-major scratch T (p x ct, at most TRANSPOSED_BYTES, and at most CHUNK rows), then
   summed as above. 2 MiB rather than 256 KiB: at 200,000 x 100 the wider scratch's longer
   chunks (fewer tile reductions) made the Gram 74 instead of 78 ms; at 20 columns both are
   CHUNK rows. */
#define TRANSPOSED_BYTES (2048 * 1024)

static Py_ssize_t transposed_rows(Py_ssize_t p)
{
    Py_ssize_t ct = TRANSPOSED_BYTES / 8 / (p > 0 ? p : 1);
    ct = ct < CHUNK ? ct : CHUNK;
    ct &= ~(Py_ssize_t)7;
    return ct > 8 ? ct : 8;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
static void wgram_rows(const double *A, Py_ssize_t ld, Py_ssize_t m, Py_ssize_t p,
                       const double *w, const double *u, double *G, Py_ssize_t ldg,
                       double *S, int intercept, double *T)
{
    Py_ssize_t ct = transposed_rows(p);
    /* Columns of T 8 doubles further apart than its rows: a power-of-two stride would map
       them all to the same cache sets (measured 4x slower at 10,000 x 10). */
    Py_ssize_t ldt = ct + 8;
    for (Py_ssize_t s = 0; s < m; s += ct) {
        Py_ssize_t r = m - s < ct ? m - s : ct;
        for (Py_ssize_t i = 0; i < r; i++) {
            const double *row = A + (s + i) * ld;
            for (Py_ssize_t j = 0; j < p; j++)
                T[j * ldt + i] = row[j];
        }
        chunk(T, ldt, r, p, w + s, u ? u + s : NULL, G, ldg, S, intercept);
    }
}

#endif /* NEWTONGLM__GRAM_TILES_H */
