/* Part of newtonglm's compiled kernel (_gram.c): the narrow Gram, 4 x 4 tiles of the result
   in vector registers over chunks of a column-major block (a row-major block is transposed
   chunk by chunk first), W applied on the fly. */

#ifndef NEWTONGLM__GRAM_TILES_H
#define NEWTONGLM__GRAM_TILES_H

#define CHUNK 2048

/* Narrow blocks are summed into vector accumulators (a v8d per entry of the result, its lanes
   reduced once per block) rather than reduced into G after every chunk: the chunks can then
   be short enough (chunk_rows) that their columns stay in L1 between the read that brings
   them in (eta, or the transposition) and the tiles. Measured, one fused logistic pass on one
   thread, against 2048-row chunks reduced each time (same run): column-major 1,000,000 x 20
   39.2 -> 31.7 ms, 100,000 x 26 5.16 -> 4.08, 10,000 x 10 0.190 -> 0.158; row-major (with
   the 8 x 8 transposition below) 44.2 -> 44.3 ms (bound by its read and transposition),
   5.17 -> 4.37, 0.257 -> 0.197. Blocks wider than VACC_MAX_COLS keep 2048-row chunks, each
   reduced into G (their accumulators would outgrow L2). */
#define VACC_MAX_COLS 80
#define L1_CHUNK_BYTES (32 * 1024)

static Py_ssize_t n_tiles(Py_ssize_t p)
{
    Py_ssize_t t = (p + 3) / 4;
    return t * (t + 1) / 2;
}

/* v8d accumulators of a block of p columns (0 when it is too wide for them): 16 per tile,
   then the intercept's row (Σ w, Σ w a_j) and the score (Σ u, Σ u a_j), p + 1 each. */
static size_t vacc_len(Py_ssize_t p)
{
    return p <= VACC_MAX_COLS ? (size_t)(16 * n_tiles(p) + 2 * (p + 1)) : 0;
}

/* Rows per chunk: the chunk's p columns in L1_CHUNK_BYTES (64 rows at least), or CHUNK. */
static Py_ssize_t chunk_rows(Py_ssize_t p)
{
    if (p > VACC_MAX_COLS)
        return CHUNK;
    Py_ssize_t r = L1_CHUNK_BYTES / 8 / (p > 0 ? p : 1);
    r = r < 64 ? 64 : (r > CHUNK ? CHUNK : r);
    return r & ~(Py_ssize_t)7;
}

/* G[j+a, k+b] += Σ_i w_i A[i, j+a] A[i, k+b] for a < NJ, b < NK over the chunk's r rows;
   with accumulators (g, the tile's 16), the first r8 rows into their lanes instead (the
   last r - r8, only in a block's last chunk, straight into G: a scalar written into a lane
   and the vector read back stalls store forwarding, 15% of a pass at 1,000,000 x 20). */
#define TILE(NJ, NK)                                                                         \
    do {                                                                                     \
        v8d c[NJ][NK];                                                                       \
        for (int a = 0; a < NJ; a++)                                                         \
            for (int b = 0; b < NK; b++)                                                     \
                c[a][b] = g ? g[4 * a + b] : (v8d){0};                                       \
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
                double t = g ? 0.0 : hsum(c[a][b]);                                          \
                if (g)                                                                       \
                    g[4 * a + b] = c[a][b];                                                  \
                for (Py_ssize_t i = r8; i < r; i++)                                          \
                    t += w[i] * A[(j + a) * lda + i] * A[(k + b) * lda + i];                 \
                if (!g || r8 < r)                                                            \
                    G[(o + k + b) * ldg + o + j + a] += t;                                   \
            }                                                                                \
    } while (0)

/* One chunk of r rows: A, w and u point at its first row. Adds to G and S, or, when Gv is
   given (vacc_len(p) of them), to the accumulators, which chunk_reduce adds to G and S. */
INLINE void chunk(const double *A, Py_ssize_t lda, Py_ssize_t r, Py_ssize_t p,
                  const double *w, const double *u, double *G, Py_ssize_t ldg, double *S, int o,
                  v8d *Gv)
{
    Py_ssize_t r8 = r & ~(Py_ssize_t)7;
    v8d *g = Gv;
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
            if (g)
                g += 16;
        }
    }
    /* The intercept's row (Σ w, Σ w a_j) and the score (Σ u, Σ u a_j); G or S may be NULL. */
    v8d *gw = Gv ? Gv + 16 * n_tiles(p) : NULL, *gu = Gv ? gw + p + 1 : NULL;
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
        if (Gv) {
            gw[j + 1] += sw;
            gu[j + 1] += su;
            if (r8 == r)
                continue; /* no tail rows to add straight into G and S */
        } else {
            tw += hsum(sw);
            tu += hsum(su);
        }
        if (o && w)
            G[col * ldg] += tw;
        if (u)
            S[col] += tu;
    }
}

/* Adds the accumulators of chunk (Gv) to G and S (either may be NULL). */
static void chunk_reduce(const v8d *Gv, Py_ssize_t p, double *G, Py_ssize_t ldg, double *S,
                         int o)
{
    const v8d *g = Gv;
    for (Py_ssize_t j = 0; G && j < p; j += 4)
        for (Py_ssize_t k = j; k < p; k += 4, g += 16)
            for (Py_ssize_t a = 0; a < 4 && j + a < p; a++)
                for (Py_ssize_t b = 0; b < 4 && k + b < p; b++)
                    G[(o + k + b) * ldg + o + j + a] += hsum(g[4 * a + b]);
    const v8d *gw = Gv + 16 * n_tiles(p), *gu = gw + p + 1;
    for (Py_ssize_t j = o ? -1 : 0; j < p; j++) {
        if (G && o)
            G[(o + j) * ldg] += hsum(gw[j + 1]);
        if (S)
            S[o + j] += hsum(gu[j + 1]);
    }
}

/* Row-major blocks (a C-ordered X): each chunk of rows is first transposed into the
   column-major scratch T (p x r, at most TRANSPOSED_BYTES), then summed as above. */
#define TRANSPOSED_BYTES (2048 * 1024)

/* Rows per chunk of the tiles: chunk_rows, and T within TRANSPOSED_BYTES (row-major). */
static Py_ssize_t tile_rows(Py_ssize_t p, int col_major)
{
    Py_ssize_t r = chunk_rows(p);
    if (!col_major) {
        Py_ssize_t ct = TRANSPOSED_BYTES / 8 / (p > 0 ? p : 1);
        ct &= ~(Py_ssize_t)7;
        ct = ct > 8 ? ct : 8;
        r = r < ct ? r : ct;
    }
    return r;
}

/* Columns of T are 8 doubles further apart than its rows: a power-of-two stride would map
   them all to the same cache sets (measured 4x slower at 10,000 x 10). */
static Py_ssize_t transposed_ld(Py_ssize_t p) { return tile_rows(p, 0) + 8; }

/* Doubles of scratch the tiles need: T (row-major blocks) and the accumulators, aligned. */
static size_t tiles_scratch(Py_ssize_t p, int col_major)
{
    return (col_major ? 0 : (size_t)(transposed_ld(p) * p)) + 8 * vacc_len(p) + 8;
}

/* The (zeroed) accumulators, after T in scratch; NULL for blocks too wide for them. */
static v8d *tiles_setup(double *scratch, Py_ssize_t p, int col_major)
{
    if (!vacc_len(p))
        return NULL;
    double *end = scratch + (col_major ? 0 : transposed_ld(p) * p);
    v8d *Gv = (v8d *)(((size_t)end + 63) & ~(size_t)63);
    memset(Gv, 0, vacc_len(p) * sizeof(v8d));
    return Gv;
}

/* The r x p chunk of rows from s on, column-major with columns *ldc apart: in A itself, or
   (a row-major A) transposed into T. */
INLINE const double *chunk_columns(const double *A, Py_ssize_t ld, int col_major, Py_ssize_t s,
                                   Py_ssize_t r, Py_ssize_t p, double *T, Py_ssize_t *ldc)
{
    if (col_major) {
        *ldc = ld;
        return A + s;
    }
    *ldc = transposed_ld(p);
    transpose_rows(A + s * ld, ld, r, p, T, *ldc);
    return T;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
static void wgram(const double *A, Py_ssize_t ld, int col_major, Py_ssize_t m, Py_ssize_t p,
                  const double *w, const double *u, double *G, Py_ssize_t ldg, double *S,
                  int o, double *scratch)
{
    v8d *Gv = tiles_setup(scratch, p, col_major);
    Py_ssize_t step = tile_rows(p, col_major), ldc;
    for (Py_ssize_t s = 0; s < m; s += step) {
        Py_ssize_t r = m - s < step ? m - s : step;
        const double *C = chunk_columns(A, ld, col_major, s, r, p, scratch, &ldc);
        chunk(C, ldc, r, p, w + s, u ? u + s : NULL, G, ldg, S, o, Gv);
    }
    if (Gv)
        chunk_reduce(Gv, p, G, ldg, S, o);
}

#endif /* NEWTONGLM__GRAM_TILES_H */
