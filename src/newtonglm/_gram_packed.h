/* Part of newtonglm's compiled kernel (_gram.c): the packed pass for wide blocks (chunks
   copied row-major, a BLAS-style register micro-kernel for the Gram). */

#ifndef NEWTONGLM__GRAM_PACKED_H
#define NEWTONGLM__GRAM_PACKED_H

/* ---- The packed Gram for wide blocks ----

   For a wide block the 4 x 4 tiles (_gram_tiles.h) stream their columns from L2 and reach a
   quarter of the FMA units' peak (level with OpenBLAS's syrk, which on a tall, narrow
   operand does not use the second thread either). Here each chunk of rows is first copied
   row-major into an aligned scratch Xp = [1 | x_i] (columns padded with zeros to a multiple
   of 8) and scaled, Wp = W_i Xp_i; the Gram's upper triangle is then built from 8 x 24
   blocks held in 24 vector registers: per row, three vectors of Xp and eight broadcast
   entries of Wp (the register blocking of a BLAS micro-kernel, with no reduction across
   lanes). A row block of KR rows keeps the 24 columns of Xp in L1 while the eight-row
   blocks of Wp stream past. Measured at 200,000 x 200, one thread: ~60 Gflop/s (the
   machine's peak ~74) against ~20 for the tiles and ~43 for syrk on a formed √W·X.

   When every weight of a chunk is >= 0 (always, for the Fisher information) the rows are
   scaled in place by √W_i instead and the Gram is Xpᵀ Xp: no second copy of the chunk to
   write, and half the chunk's footprint in L2 (one thread, 200,000 x 200, one pass: 172 ->
   156 ms row-major, 194 -> 174 column-major). Weights of either sign (an observed
   information) keep Wp. While a chunk's Gram computes, the next chunk of A is prefetched
   into L2, a few lines before each micro-kernel call: a column-major chunk is p separate
   short runs that the hardware prefetcher picks up late (under perf, the first read of such
   a chunk fell from 37% to 13% of the packing's samples; the pass times moved within noise). */

#define PACK_BYTES (1024 * 1024) /* Xp and Wp of one chunk together */
#define KR 128


/* Separate functions (a call per KR rows): inlined into packed_pass, GCC loads the eight Wp
   entries as one vector and broadcasts each lane by a permute, on a port the FMAs need. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MICRO_ATTRS                                                                          \
    __attribute__((noinline, target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MICRO_ATTRS __attribute__((noinline))
#endif

/* Gp[J + a][K + 8b ..] += Σ_i Wp[i][J + a] Xp[i][K + 8b ..] over r rows (a < 8, b < NR). */
#define MICRO(NR)                                                                            \
    MICRO_ATTRS static void micro##NR(const double *Wp, const double *Xp, Py_ssize_t ldp, Py_ssize_t r, \
                          Py_ssize_t J, Py_ssize_t K, double *Gp)                          \
    {                                                                                        \
        v8d c[8][NR];                                                                        \
        memset(c, 0, sizeof c);                                                              \
        for (Py_ssize_t i = 0; i < r; i++) {                                                 \
            const double *xr = Xp + i * ldp + K, *wr = Wp + i * ldp + J;                    \
            v8d x[NR];                                                                       \
            for (int b = 0; b < NR; b++)                                                     \
                x[b] = load8(xr + 8 * b);                                                    \
            for (int a = 0; a < 8; a++) {                                                    \
                double t = wr[a]; /* spelled out: through a helper GCC builds it lane by lane */ \
                v8d s = {t, t, t, t, t, t, t, t};                                            \
                for (int b = 0; b < NR; b++)                                                 \
                    c[a][b] += s * x[b];                                                     \
            }                                                                                \
        }                                                                                    \
        for (int a = 0; a < 8; a++)                                                          \
            for (int b = 0; b < NR; b++) {                                                   \
                double *g = Gp + (J + a) * ldp + K + 8 * b;                                  \
                store8(g, load8(g) + c[a][b]);                                               \
            }                                                                                \
    }
MICRO(1)
MICRO(2)
MICRO(3)
#undef MICRO

/* The next chunk of A, fetched into L2 a few lines at a time while the Gram of this chunk
   computes: segments of seg bytes, stride bytes apart (a column each when A is column-major,
   one when it is row-major). */
typedef struct {
    const char *base;
    Py_ssize_t stride, seg, nseg, k, off, per_call;
} prefetch_t;

INLINE void prefetch_step(prefetch_t *pf)
{
    for (Py_ssize_t n = 0; n < pf->per_call && pf->k < pf->nseg; n++) {
        __builtin_prefetch(pf->base + pf->k * pf->stride + pf->off, 0, 2);
        pf->off += 64;
        if (pf->off >= pf->seg) {
            pf->off = 0;
            pf->k++;
        }
    }
}

/* The upper triangle (in blocks of 8) of Wpᵀ Xp over a chunk of r rows, q columns. */
INLINE void packed_gram(const double *Wp, const double *Xp, Py_ssize_t ldp, Py_ssize_t r,
                        Py_ssize_t q, double *Gp, prefetch_t *pf)
{
    for (Py_ssize_t i0 = 0; i0 < r; i0 += KR) {
        Py_ssize_t rr = r - i0 < KR ? r - i0 : KR;
        const double *W0 = Wp + i0 * ldp, *X0 = Xp + i0 * ldp;
        for (Py_ssize_t K = 0; K < q; K += 24)
            for (Py_ssize_t J = 0; J < q && J < K + 24; J += 8) {
                Py_ssize_t K0 = J > K ? J : K;
                Py_ssize_t end = K + 24 < ldp ? K + 24 : ldp;
                prefetch_step(pf);
                switch ((end - K0) / 8) {
                case 3: micro3(W0, X0, ldp, rr, J, K0, Gp); break;
                case 2: micro2(W0, X0, ldp, rr, J, K0, Gp); break;
                default: micro1(W0, X0, ldp, rr, J, K0, Gp); break;
                }
            }
    }
}

typedef enum { PACK_FUSED, PACK_START, PACK_GIVEN } pack_mode;

/* Columns of the packed rows (the intercept's and A's, padded to a multiple of 8) and rows
   per chunk. */
static Py_ssize_t packed_ld(Py_ssize_t p, int o)
{
    Py_ssize_t ldp = (p + o + 7) & ~(Py_ssize_t)7;
    return ldp > 8 ? ldp : 8; /* 8 when there are no columns at all: eta is still needed */
}

static Py_ssize_t packed_rows(Py_ssize_t ldp)
{
    Py_ssize_t kc = PACK_BYTES / 16 / ldp;
    kc = kc < CHUNK ? kc : CHUNK;
    kc &= ~(Py_ssize_t)7;
    return kc > 8 ? kc : 8;
}

/* Doubles of scratch packed_pass needs (with room to align it to 64 bytes). */
static size_t packed_scratch(Py_ssize_t p, int o)
{
    size_t ldp = (size_t)packed_ld(p, o), kc = (size_t)packed_rows(packed_ld(p, o));
    return 2 * kc * ldp + ldp * ldp + 2 * ldp + 3 * kc + 8;
}

/* Whether a block of p columns takes the packed kernel: kernel 1 forces it, 0 the tiles,
   -1 (the default) chooses by width. Measured per row, one thread, logistic pass: row-major
   32 columns 67 vs 83 ns (tiles after their transpose), 24: 58 vs 43; column-major (whose
   rows the packing transposes) 96 columns 302 vs 393 ns, 64: level. */
#define PACKED_MIN_ROW_MAJOR 32
#define PACKED_MIN_COL_MAJOR 80
/* Widest block it takes: its padded (d + 8)^2 sum is scratch of every call (8.5 MiB at 1,024
   columns). Wider column-major blocks take the tiles; newtonglm.engine.accumulate sends wider row-major
   blocks to BLAS (module constant PACKED_MAX_COLS). */
#define PACKED_MAX_COLS 1024
static int use_packed(int kernel, int col_major, Py_ssize_t p)
{
    if (kernel >= 0)
        return kernel;
    return p >= (col_major ? PACKED_MIN_COL_MAJOR : PACKED_MIN_ROW_MAJOR) && p <= PACKED_MAX_COLS;
}

/* The pass over one block through packed chunks. PACK_FUSED: eta from coef (coef has the
   intercept first when o), W and U by glm_rows; PACK_START: R's start; PACK_GIVEN: W and U
   are Wg and Ug (the Gram alone, for the families that keep the NumPy per-row part). G (upper
   triangle, ldg) and S may each be NULL; S only with U (Ug, in PACK_GIVEN). */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
static void packed_pass(const double *A, Py_ssize_t ld, int col_major, Py_ssize_t m,
                        Py_ssize_t p, int o, pack_mode mode, const double *coef,
                        const double *off, const double *y, const double *w, int fam,
                        const double *Wg, const double *Ug, double *G, Py_ssize_t ldg,
                        double *S, double *wout, sums_t *sums, double *scratch)
{
    Py_ssize_t ldp = packed_ld(p, o), kc = packed_rows(ldp), q = p + o;
    double *base = (double *)(((size_t)scratch + 63) & ~(size_t)63);
    double *Xp = base, *Wp = Xp + kc * ldp, *Gp = Wp + kc * ldp, *Sp = Gp + ldp * ldp;
    double *bp = Sp + ldp, *eta = bp + ldp, *Wc = eta + kc, *Uc = Wc + kc;
    memset(Gp, 0, (size_t)(ldp * ldp + ldp) * sizeof(double)); /* Gp and Sp */
    memset(bp, 0, (size_t)ldp * sizeof(double));
    if (mode == PACK_FUSED)
        memcpy(bp, coef, (size_t)q * sizeof(double));
    for (Py_ssize_t s = 0; s < m; s += kc) {
        Py_ssize_t r = m - s < kc ? m - s : kc;
        prefetch_t pf = {0};
        if (s + r < m) {
            Py_ssize_t rn = m - s - r < kc ? m - s - r : kc, calls = 0;
            for (Py_ssize_t K = 0; K < q; K += 24)
                calls += (K + 24 < q ? K + 24 : q) / 8 + ((K + 24 < q ? K + 24 : q) % 8 != 0);
            calls = calls * ((r + KR - 1) / KR) + 1; /* + 1: no calls at all when q is 0 */
            /* + 63: the runs need not start on a line (a prefetch past the end of A, at most
               a line, does not fault) */
            if (col_major)
                pf = (prefetch_t){(const char *)(A + s + r), ld * 8, rn * 8 + 63, p, 0, 0, 0};
            else
                pf = (prefetch_t){(const char *)(A + (s + r) * ld), 0, rn * ld * 8 + 63, 1, 0, 0, 0};
            pf.per_call = (pf.nseg * ((pf.seg + 63) / 64) + calls - 1) / calls;
        }
        /* Xp = [1 | A's rows], and eta = Xp bp + offset, in the one read of the chunk */
        for (Py_ssize_t i = 0; i < r; i++) {
            double *xr = Xp + i * ldp;
            memset(xr + q, 0, (size_t)(ldp - q) * sizeof(double));
            if (o)
                xr[0] = 1.0;
            eta[i] = (o ? bp[0] : 0.0) + (off && mode == PACK_FUSED ? off[s + i] : 0.0);
        }
        if (col_major) {
            for (Py_ssize_t j = 0; mode == PACK_FUSED && j < p; j++) {
                const double *c = A + j * ld + s;
                double bj = bp[o + j];
                for (Py_ssize_t i = 0; i < r; i++)
                    eta[i] += bj * c[i];
            }
            transpose_chunk(A + s, ld, r, p, Xp + o, ldp);
        } else {
            Py_ssize_t p8 = p & ~(Py_ssize_t)7;
            for (Py_ssize_t i = 0; i < r; i++) {
                const double *row = A + (s + i) * ld;
                double *xr = Xp + i * ldp;
                v8d acc = {0};
                for (Py_ssize_t j = 0; j < p8; j += 8) {
                    v8d v = load8(row + j);
                    store8(xr + o + j, v);
                    acc += v * load8(bp + o + j);
                }
                double e = eta[i] + hsum(acc);
                for (Py_ssize_t j = p8; j < p; j++) {
                    xr[o + j] = row[j];
                    e += row[j] * bp[o + j];
                }
                eta[i] = e;
            }
        }
        const double *W = Wc, *U = Uc;
        if (mode == PACK_FUSED) {
            glm_rows(fam, eta, y + s, w ? w + s : NULL, r, Wc, Uc, sums);
            if (wout)
                memcpy(wout + s, Wc, (size_t)r * sizeof(double));
        } else if (mode == PACK_START) {
            start_rows(fam, y + s, w ? w + s : NULL, off ? off + s : NULL, r, Wc, Uc);
        } else {
            W = Wg + s;
            U = Ug ? Ug + s : NULL; /* NULL only with S NULL */
        }
        int sym = G != NULL;
        for (Py_ssize_t i = 0; sym && i < r; i++)
            sym = !(W[i] < 0.0);
        /* The score S += U_i Xp_i; for the Gram, Xp_i *= √W_i in place when no weight of the
           chunk is negative (the Gram is then Xpᵀ Xp), else Wp_i = W_i Xp_i beside it. */
        for (Py_ssize_t i = 0; (G || S) && i < r; i++) {
            double *xr = Xp + i * ldp, *wr = Wp + i * ldp, sw = sym ? sqrt(W[i]) : 0.0;
            for (Py_ssize_t j = 0; j < ldp; j += 8) {
                v8d x = load8(xr + j);
                if (S)
                    store8(Sp + j, load8(Sp + j) + U[i] * x);
                if (sym)
                    store8(xr + j, sw * x);
                else if (G)
                    store8(wr + j, W[i] * x);
            }
        }
        if (G)
            packed_gram(sym ? Xp : Wp, Xp, ldp, r, q, Gp, &pf);
    }
    for (Py_ssize_t a = 0; G && a < q; a++)
        for (Py_ssize_t b = a; b < q; b++)
            G[b * ldg + a] += Gp[a * ldp + b];
    for (Py_ssize_t a = 0; S && a < q; a++)
        S[a] += Sp[a];
}

#endif /* NEWTONGLM__GRAM_PACKED_H */
