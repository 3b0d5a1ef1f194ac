/* Weighted Gram matrix of a column-major block, in one read of the block.

   newtonglm._gram.wgram(A, w, u, G, intercept) adds to the upper triangle of G

       [1 | A | .]ᵀ W [1 | A | .]    (the leading column of ones only when intercept is true)

   and, when u is given, the score column Σ_i u_i [1 | a_i] into G's last column. The Python
   fallback writes √W·A into a buffer and calls BLAS syrk; this kernel never writes √W·A: it
   reads each 2048-row chunk of A (hot in L2 after the first of its column tiles) and
   accumulates 4 x 4 tiles of the result in vector registers, multiplying by w on the fly. For
   a narrow Gram (d up to a few dozen) that is 2-3x faster than OpenBLAS's syrk, whose packing
   and edge handling dominate at that width. A row-major block (C-ordered X) is transposed
   chunk by chunk into a small scratch array first. Wide blocks take the packed kernel further
   down (packed_pass), ~2x faster than syrk at d = 200. Both wgram and glm_pass take an
   optional last argument: 0 forces the tiles, 1 the packed kernel (for the tests).

   The vector type is GCC/Clang's generic vector extension; on x86-64 the function is compiled
   three times (AVX-512, AVX2, baseline) and the loader picks the best the CPU has. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

typedef double v8d __attribute__((vector_size(64), aligned(8)));

#define CHUNK 2048

#define INLINE static inline __attribute__((always_inline))

INLINE v8d load8(const double *p)
{
    v8d v;
    memcpy(&v, p, sizeof v);
    return v;
}

INLINE double hsum(v8d v)
{
    double t = 0.0;
    for (int l = 0; l < 8; l++)
        t += v[l];
    return t;
}

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

/* ---- The fused GLM pass: eta, the mean, the working weights, the deviance and the Gram ----

   glm_pass computes, chunk by chunk, eta = b0 + offset + A beta, then per row the mean, the
   working weight W = w V(mu) mu'^2 / V^2 ... (= w V for the canonical links here), the score
   weight U = w (y - mu), the deviance and Pearson's chi^2, and adds the chunk's Gram and score
   while the chunk is still in cache: one read of X per Newton iteration and no n-length
   temporaries. glm_rows is the per-row part alone, for blocks that glm_pass cannot read (a
   wide row-major block goes to BLAS; a sparse design). Only the canonical pairs below are
   here; every other family/link keeps newtonglm.kernel's NumPy path. The arithmetic follows
   newtonglm.families row for row: the same clipping of the mean (R's), the same edge rules,
   the deviance in the forms that stay exact where the mean reaches its clip bounds. */

#include <math.h>

enum { BINOMIAL_LOGIT = 0, POISSON_LOG = 1, GAUSSIAN_IDENTITY = 2, N_FAMILIES = 3 };

#define MU_EPS 2.220446049250313e-16        /* float64 eps: R's clip of the binomial mean */
#define MU_TINY 4.9406564584124654e-324     /* smallest subnormal, Poisson's ratio floor */
#define MAX_EXP 709.0                       /* the log link's cap on eta */

typedef long long v8l __attribute__((vector_size(64), aligned(8)));

INLINE v8d sel(v8l m, v8d a, v8d b) { return (v8d)((m & (v8l)a) | (~m & (v8l)b)); }
INLINE v8d vabs(v8d x) { return (v8d)((v8l)x & 0x7fffffffffffffffLL); }
INLINE int any(v8l m)
{
    long long o = 0;
    for (int l = 0; l < 8; l++)
        o |= m[l];
    return o != 0;
}

/* e^x for x in [-746, 709] (the callers clamp; NaN stays NaN): x = k ln 2 + r, |r| <= ln2 / 2,
   e^r by its Taylor polynomial of degree 13 (truncation < 5e-18), 2^k by the exponent bits
   (in two factors, so that subnormal results come out right and below e^-745 is 0). Within
   2 ulp of the correctly rounded value (tested against NumPy). */
INLINE v8d vexp(v8d x)
{
    const double shift = 6755399441055744.0; /* 0x1.8p52: adding it rounds to an integer */
    v8d kd = x * 1.4426950408889634 + shift;
    v8l k = (v8l)kd - 0x4338000000000000LL; /* the integer in the low bits of kd */
    kd -= shift;
    v8d r = (x - kd * 6.93147180369123816490e-01) - kd * 1.90821492927058770002e-10;
    v8d q = r * (1.0 / 6227020800.0) + 1.0 / 479001600.0;
    q = q * r + 1.0 / 39916800.0;
    q = q * r + 1.0 / 3628800.0;
    q = q * r + 1.0 / 362880.0;
    q = q * r + 1.0 / 40320.0;
    q = q * r + 1.0 / 5040.0;
    q = q * r + 1.0 / 720.0;
    q = q * r + 1.0 / 120.0;
    q = q * r + 1.0 / 24.0;
    q = q * r + 1.0 / 6.0;
    q = q * r + 0.5;
    q = q * r + 1.0;
    q = q * r + 1.0;
    v8l k1 = k >> 1; /* 2^k as 2^k1 2^(k - k1): both normal for k in [-1076, 1023] */
    return q * (v8d)((k1 + 1023) << 52) * (v8d)((k - k1 + 1023) << 52);
}

/* log x for positive normal x, +inf and NaN passed through: fdlibm's e_log.c, lane-wise
   (x = 2^k m, m in [sqrt(1/2), sqrt(2)), log m from s = f / (2 + f), f = m - 1); < 1 ulp. */
INLINE v8d vlog(v8d x)
{
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    const double Lg1 = 6.666666666666735130e-01, Lg2 = 3.999999999940941908e-01,
                 Lg3 = 2.857142874366239149e-01, Lg4 = 2.222219843214978396e-01,
                 Lg5 = 1.818357216161805012e-01, Lg6 = 1.531383769920937332e-01,
                 Lg7 = 1.479819860511658591e-01;
    v8l xi = (v8l)x;
    v8l k = ((xi >> 52) & 0x7ff) - 1023;
    v8d m = (v8d)((xi & 0x000fffffffffffffLL) | 0x3ff0000000000000LL);
    v8l big = m > 1.4142135623730951;
    m = sel(big, m * 0.5, m);
    k -= big; /* big is -1 where true */
    v8d f = m - 1.0, dk = __builtin_convertvector(k, v8d);
    v8d s = f / (2.0 + f), z = s * s, w = z * z;
    v8d t1 = w * (Lg2 + w * (Lg4 + w * Lg6));
    v8d t2 = z * (Lg1 + w * (Lg3 + w * (Lg5 + w * Lg7)));
    v8d hfsq = 0.5 * f * f;
    v8d res = dk * ln2_hi - ((hfsq - (s * (hfsq + t2 + t1) + dk * ln2_lo)) - f);
    return sel(x < __builtin_inf(), res, x);
}

/* Lane-wise Neumaier sums: s + c holds each lane's total to about one rounding, so the
   deviance of a pass hardly depends on how its rows were split into blocks and chunks (a
   quasi-Newton line search works in the last digits of the deviance, and a Dask fit's chunks
   are not the in-memory blocks). */
typedef struct {
    v8d dev, dev_c, pear, pear_c;
    v8l boundary;
} sums_t;

INLINE void vadd_compensated(v8d *s, v8d *c, v8d x)
{
    v8d t = *s + x;
    *c += sel(vabs(*s) >= vabs(x), (*s - t) + x, (x - t) + *s);
    *s = t;
}

INLINE double xlogy(double x, double y) { return x == 0.0 ? 0.0 : x * log(y); }

/* Binomial unit deviance of a proportion y (not 0 or 1): the ratio form, exactly 0 at y == mu;
   where mu sits at a clip bound, the form in eta: y log y + y softplus(-eta) + ... with
   softplus(+-eta) = max(+-eta, 0) + lp, lp = log1p(exp(-|eta|)). */
static double binomial_fraction(double y, double mu, double e, double lp)
{
    double ym = 1.0 - y, d;
    if (mu <= MU_EPS || mu >= 1.0 - MU_EPS)
        d = 2.0 * (xlogy(y, y) + y * (lp + (e < 0.0 ? -e : 0.0)) + xlogy(ym, ym) +
                   ym * (lp + (e > 0.0 ? e : 0.0)));
    else
        d = 2.0 * (xlogy(y, y / mu) + xlogy(ym, ym / (1.0 - mu)));
    d = d < 0.0 ? 0.0 : d;
    return y == mu ? 0.0 : d;
}

/* Eight rows: W, U and the sums, from eta. Every row goes through these same lane-wise
   operations (a block's last rows too, padded), so a row's numbers never depend on where
   the blocks start. ``mixed``: a binomial y may hold proportions (not only 0 and 1). */
INLINE void rows8(int fam, int mixed, v8d e, v8d y, v8d w, double *W, double *U, sums_t *a)
{
    v8d mu, v, d;
    v8l edge = {0};
    switch (fam) {
    case BINOMIAL_LOGIT: {
        /* mu = 1 / (1 + e^-eta) from t = e^-|eta| (t / (1 + t) for eta < 0: no overflow). */
        v8d na = -vabs(e);
        v8d t = vexp(sel(na < -746.0, (v8d){0} - 746.0, na));
        v8d u = 1.0 + t, inv = 1.0 / u;
        v8d raw = sel(e >= 0.0, inv, t * inv);
        mu = sel(raw < MU_EPS, (v8d){0} + MU_EPS, raw);
        mu = sel(mu > 1.0 - MU_EPS, (v8d){0} + (1.0 - MU_EPS), mu);
        edge = mu != raw;
        /* lp = log1p(t): log u corrected for the rounding of u = 1 + t */
        v8d lp = vlog(u) - ((u - 1.0) - t) * inv;
        /* y = 1: -2 log mu = 2 softplus(-eta); y = 0: -2 log(1 - mu) = 2 softplus(eta) */
        v8d se = (1.0 - 2.0 * y) * e;
        d = 2.0 * (lp + sel(se > 0.0, se, (v8d){0}));
        if (mixed) {
            v8l frac = (y != 0.0) & (y != 1.0);
            if (any(frac))
                for (int l = 0; l < 8; l++)
                    if (frac[l])
                        d[l] = binomial_fraction(y[l], mu[l], e[l], lp[l]);
        }
        v = mu * (1.0 - mu);
        break;
    }
    case POISSON_LOG: {
        v8d ec = sel(e > MAX_EXP, (v8d){0} + MAX_EXP, e);
        v8d raw = vexp(sel(ec < -746.0, (v8d){0} - 746.0, ec));
        mu = sel(raw < MU_EPS, (v8d){0} + MU_EPS, raw);
        edge = mu != raw;
        /* 2 [y log(y / mu) - (y - mu)]; the ratio floored at the smallest normal number */
        v8d q = y / mu;
        q = sel(q < __DBL_MIN__, (v8d){0} + __DBL_MIN__, q);
        d = 2.0 * ((vlog(q) * y - y) + mu);
        d = sel(d < 0.0, (v8d){0}, d);
        d = sel(y == 0.0, 2.0 * mu, d);
        v = mu;
        break;
    }
    default: /* GAUSSIAN_IDENTITY */
        mu = e;
        d = (y - mu) * (y - mu);
        v = (v8d){0} + 1.0;
        break;
    }
    v8d res = y - mu, wv = w * v, wr = w * res;
    memcpy(W, &wv, sizeof wv);
    memcpy(U, &wr, sizeof wr);
    a->boundary -= edge & (w > 0.0);
    vadd_compensated(&a->dev, &a->dev_c, w * d);
    vadd_compensated(&a->pear, &a->pear_c, w * res * (res / v)); /* res² alone may overflow */
}

/* Whether a binomial chunk's y holds anything but 0 and 1 (proportions take a slower path). */
INLINE int has_fraction(const double *y, Py_ssize_t r)
{
    int f = 0;
    for (Py_ssize_t i = 0; i < r; i++)
        f |= (y[i] != 0.0) & (y[i] != 1.0);
    return f;
}

/* Per row of a chunk: W, U and the sums, from eta. w may be NULL (unit weights). Four groups
   of eight rows per step: their long dependency chains (exp, divisions, log) overlap. */
INLINE void glm_rows(int fam, const double *eta, const double *y, const double *w,
                     Py_ssize_t r, double *W, double *U, sums_t *a)
{
    int mixed = fam == BINOMIAL_LOGIT && has_fraction(y, r);
    Py_ssize_t r8 = r & ~(Py_ssize_t)7, r32 = r & ~(Py_ssize_t)31, i = 0;
    v8d one = (v8d){0} + 1.0;
#define ROWS8(k)                                                                             \
    rows8(fam, mixed, load8(eta + i + (k)), load8(y + i + (k)), w ? load8(w + i + (k)) : one, \
          W + i + (k), U + i + (k), a)
    for (; i < r32; i += 32) {
        ROWS8(0);
        ROWS8(8);
        ROWS8(16);
        ROWS8(24);
    }
    for (; i < r8; i += 8)
        ROWS8(0);
#undef ROWS8
    if (r8 < r) { /* the last rows, padded with rows of weight 0 */
        double e8[8] = {0}, y8[8] = {0}, w8[8] = {0}, W8[8], U8[8];
        for (Py_ssize_t i = r8; i < r; i++) {
            e8[i - r8] = eta[i];
            y8[i - r8] = y[i];
            w8[i - r8] = w ? w[i] : 1.0;
        }
        rows8(fam, mixed, load8(e8), load8(y8), load8(w8), W8, U8, a);
        for (Py_ssize_t i = r8; i < r; i++) {
            W[i] = W8[i - r8];
            U[i] = U8[i - r8];
        }
    }
}

/* R's start (its first IRLS step, at mustart) for eight rows: W = w V(mu0) and U = W z with
   the working response z = g(mu0) + (y - mu0) / V(mu0) - offset, where mu0 is
   newtonglm.families' starting_mu (binomial (w y + 1/2) / (w + 1), Poisson y + 0.1, Gaussian
   y), clipped as clip_mu clips it. */
INLINE void start8(int fam, v8d y, v8d w, v8d off, double *W, double *U)
{
    v8d mu, v, eta;
    switch (fam) {
    case BINOMIAL_LOGIT:
        mu = (w * y + 0.5) / (w + 1.0);
        mu = sel(mu < MU_EPS, (v8d){0} + MU_EPS, mu);
        mu = sel(mu > 1.0 - MU_EPS, (v8d){0} + (1.0 - MU_EPS), mu);
        eta = vlog(mu / (1.0 - mu));
        v = mu * (1.0 - mu);
        break;
    case POISSON_LOG:
        mu = y + 0.1;
        mu = sel(mu < MU_EPS, (v8d){0} + MU_EPS, mu);
        eta = vlog(mu);
        v = mu;
        break;
    default: /* GAUSSIAN_IDENTITY */
        mu = y;
        eta = y;
        v = (v8d){0} + 1.0;
        break;
    }
    v8d wv = w * v, u = wv * ((eta + (y - mu) / v) - off);
    memcpy(W, &wv, sizeof wv);
    memcpy(U, &u, sizeof u);
}

INLINE void start_rows(int fam, const double *y, const double *w, const double *off,
                       Py_ssize_t r, double *W, double *U)
{
    Py_ssize_t r8 = r & ~(Py_ssize_t)7;
    v8d one = (v8d){0} + 1.0, zero = {0};
    for (Py_ssize_t i = 0; i < r8; i += 8)
        start8(fam, load8(y + i), w ? load8(w + i) : one, off ? load8(off + i) : zero, W + i,
               U + i);
    if (r8 < r) { /* the last rows, padded with rows of weight 0 */
        double y8[8] = {0}, w8[8] = {0}, o8[8] = {0}, W8[8], U8[8];
        for (Py_ssize_t i = r8; i < r; i++) {
            y8[i - r8] = y[i];
            w8[i - r8] = w ? w[i] : 1.0;
            o8[i - r8] = off ? off[i] : 0.0;
        }
        start8(fam, load8(y8), load8(w8), load8(o8), W8, U8);
        for (Py_ssize_t i = r8; i < r; i++) {
            W[i] = W8[i - r8];
            U[i] = U8[i - r8];
        }
    }
}

static void add_compensated(double *s, double *c, double x)
{
    double t = *s + x;
    *c += fabs(*s) >= fabs(x) ? (*s - t) + x : (x - t) + *s;
    *s = t;
}

/* The lanes' totals as one compensated pair each, and the boundary count. */
static PyObject *sums_result(const sums_t *a)
{
    double ds = 0.0, dc = 0.0, ps = 0.0, pc = 0.0;
    long long nb = 0;
    for (int l = 0; l < 8; l++) {
        /* a lane that overflowed (or met a NaN) has a NaN compensation: the sum alone counts */
        add_compensated(&ds, &dc, a->dev[l]);
        add_compensated(&ds, &dc, isfinite(a->dev[l]) ? a->dev_c[l] : 0.0);
        add_compensated(&ps, &pc, a->pear[l]);
        add_compensated(&ps, &pc, isfinite(a->pear[l]) ? a->pear_c[l] : 0.0);
        nb += a->boundary[l];
    }
    if (!isfinite(ds))
        dc = 0.0;
    if (!isfinite(ps))
        pc = 0.0;
    return Py_BuildValue("ddddL", ds, dc, ps, pc, nb);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
static void glm_rows_block(int fam, const double *eta, const double *y, const double *w,
                           Py_ssize_t m, double *W, double *U, sums_t *s)
{
    glm_rows(fam, eta, y, w, m, W, U, s);
}

/* The fused pass over one block. A is column-major (ld = distance between columns) or
   row-major (ld = distance between rows; each chunk is transposed into T first). scratch
   holds 3 CHUNK doubles (eta, W, U of a chunk). G (Gram, upper triangle, leading dimension
   ldg) and S (score) may each be NULL; wout, if given, receives W of every row. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
static void glm_pass(const double *A, Py_ssize_t ld, int col_major, Py_ssize_t m, Py_ssize_t p,
                     const double *beta, double b0, const double *off, const double *y,
                     const double *w, int fam, double *G, Py_ssize_t ldg, double *S, int o,
                     double *wout, sums_t *sums, double *scratch, double *T, int start)
{
    double *eta = scratch, *W = scratch + CHUNK, *U = scratch + 2 * CHUNK;
    Py_ssize_t step = col_major ? CHUNK : transposed_rows(p);
    Py_ssize_t ldt = step + 8; /* see wgram_rows */
    for (Py_ssize_t s = 0; s < m; s += step) {
        Py_ssize_t r = m - s < step ? m - s : step;
        const double *C;
        Py_ssize_t ldc;
        if (col_major) {
            C = A + s;
            ldc = ld;
        } else {
            for (Py_ssize_t i = 0; i < r; i++) {
                const double *row = A + (s + i) * ld;
                for (Py_ssize_t j = 0; j < p; j++)
                    T[j * ldt + i] = row[j];
            }
            C = T;
            ldc = ldt;
        }
        if (start) { /* R's start: W and U from y alone, no eta */
            start_rows(fam, y + s, w ? w + s : NULL, off ? off + s : NULL, r, W, U);
            chunk(C, ldc, r, p, W, S ? U : NULL, G, ldg, S, o);
            continue;
        }
        for (Py_ssize_t i = 0; i < r; i++)
            eta[i] = off ? b0 + off[s + i] : b0;
        for (Py_ssize_t j = 0; j < p; j++) {
            double bj = beta[j];
            const double *c = C + j * ldc;
            for (Py_ssize_t i = 0; i < r; i++)
                eta[i] += bj * c[i];
        }
        glm_rows(fam, eta, y + s, w ? w + s : NULL, r, W, U, sums);
        if (wout)
            memcpy(wout + s, W, (size_t)r * sizeof(double));
        chunk(C, ldc, r, p, W, S ? U : NULL, G, ldg, S, o);
    }
}

/* ---- The packed Gram for wide blocks ----

   For a wide block the 4 x 4 tiles above stream their columns from L2 and reach about a
   quarter of the FMA units' peak (level with OpenBLAS's syrk, which on a tall, narrow
   operand does not use the second thread either). Here each chunk of rows is first copied
   row-major into an aligned scratch Xp = [1 | x_i] (columns padded with zeros to a multiple
   of 8) and scaled, Wp = W_i Xp_i; the Gram's upper triangle is then built from 8 x 24
   blocks held in 24 vector registers: per row, three vectors of Xp and eight broadcast
   entries of Wp (the register blocking of a BLAS micro-kernel, with no reduction across
   lanes). A row block of KR rows keeps the 24 columns of Xp in L1 while the eight-row
   blocks of Wp stream past. Measured at 200,000 x 200, one thread: ~60 Gflop/s (the
   machine's peak ~74) against ~20 for the tiles and ~43 for syrk on a formed √W·X. */

#define PACK_BYTES (1024 * 1024) /* Xp and Wp of one chunk together */
#define KR 128

INLINE void store8(double *p, v8d v) { memcpy(p, &v, sizeof v); }

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

/* The upper triangle (in blocks of 8) of Wpᵀ Xp over a chunk of r rows, q columns. */
INLINE void packed_gram(const double *Wp, const double *Xp, Py_ssize_t ldp, Py_ssize_t r,
                        Py_ssize_t q, double *Gp)
{
    for (Py_ssize_t i0 = 0; i0 < r; i0 += KR) {
        Py_ssize_t rr = r - i0 < KR ? r - i0 : KR;
        const double *W0 = Wp + i0 * ldp, *X0 = Xp + i0 * ldp;
        for (Py_ssize_t K = 0; K < q; K += 24)
            for (Py_ssize_t J = 0; J < q && J < K + 24; J += 8) {
                Py_ssize_t K0 = J > K ? J : K;
                Py_ssize_t end = K + 24 < ldp ? K + 24 : ldp;
                switch ((end - K0) / 8) {
                case 3: micro3(W0, X0, ldp, rr, J, K0, Gp); break;
                case 2: micro2(W0, X0, ldp, rr, J, K0, Gp); break;
                default: micro1(W0, X0, ldp, rr, J, K0, Gp); break;
                }
            }
    }
}

#if defined(__clang__)
#define SHUF(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define SHUF(a, b, ...) __builtin_shuffle(a, b, (v8l){__VA_ARGS__})
#endif

/* T[i][j] = C[j][i] for a column-major r x p chunk C (columns ld apart) into rows of T (ldt
   apart): 8 x 8 blocks transposed in registers (three rounds of two-vector shuffles), so the
   row-major side is written a vector at a time. */
INLINE void transpose_chunk(const double *C, Py_ssize_t ld, Py_ssize_t r, Py_ssize_t p,
                            double *T, Py_ssize_t ldt)
{
    Py_ssize_t r8 = r & ~(Py_ssize_t)7, p8 = p & ~(Py_ssize_t)7;
    for (Py_ssize_t i = 0; i < r8; i += 8)
        for (Py_ssize_t j = 0; j < p8; j += 8) {
            const double *c = C + j * ld + i;
            v8d c0 = load8(c), c1 = load8(c + ld), c2 = load8(c + 2 * ld),
                c3 = load8(c + 3 * ld), c4 = load8(c + 4 * ld), c5 = load8(c + 5 * ld),
                c6 = load8(c + 6 * ld), c7 = load8(c + 7 * ld);
            v8d t0 = SHUF(c0, c1, 0, 8, 2, 10, 4, 12, 6, 14);
            v8d t1 = SHUF(c0, c1, 1, 9, 3, 11, 5, 13, 7, 15);
            v8d t2 = SHUF(c2, c3, 0, 8, 2, 10, 4, 12, 6, 14);
            v8d t3 = SHUF(c2, c3, 1, 9, 3, 11, 5, 13, 7, 15);
            v8d t4 = SHUF(c4, c5, 0, 8, 2, 10, 4, 12, 6, 14);
            v8d t5 = SHUF(c4, c5, 1, 9, 3, 11, 5, 13, 7, 15);
            v8d t6 = SHUF(c6, c7, 0, 8, 2, 10, 4, 12, 6, 14);
            v8d t7 = SHUF(c6, c7, 1, 9, 3, 11, 5, 13, 7, 15);
            v8d u0 = SHUF(t0, t2, 0, 1, 8, 9, 4, 5, 12, 13);
            v8d u2 = SHUF(t0, t2, 2, 3, 10, 11, 6, 7, 14, 15);
            v8d u1 = SHUF(t1, t3, 0, 1, 8, 9, 4, 5, 12, 13);
            v8d u3 = SHUF(t1, t3, 2, 3, 10, 11, 6, 7, 14, 15);
            v8d u4 = SHUF(t4, t6, 0, 1, 8, 9, 4, 5, 12, 13);
            v8d u6 = SHUF(t4, t6, 2, 3, 10, 11, 6, 7, 14, 15);
            v8d u5 = SHUF(t5, t7, 0, 1, 8, 9, 4, 5, 12, 13);
            v8d u7 = SHUF(t5, t7, 2, 3, 10, 11, 6, 7, 14, 15);
            double *t = T + i * ldt + j;
            store8(t, SHUF(u0, u4, 0, 1, 2, 3, 8, 9, 10, 11));
            store8(t + ldt, SHUF(u1, u5, 0, 1, 2, 3, 8, 9, 10, 11));
            store8(t + 2 * ldt, SHUF(u2, u6, 0, 1, 2, 3, 8, 9, 10, 11));
            store8(t + 3 * ldt, SHUF(u3, u7, 0, 1, 2, 3, 8, 9, 10, 11));
            store8(t + 4 * ldt, SHUF(u0, u4, 4, 5, 6, 7, 12, 13, 14, 15));
            store8(t + 5 * ldt, SHUF(u1, u5, 4, 5, 6, 7, 12, 13, 14, 15));
            store8(t + 6 * ldt, SHUF(u2, u6, 4, 5, 6, 7, 12, 13, 14, 15));
            store8(t + 7 * ldt, SHUF(u3, u7, 4, 5, 6, 7, 12, 13, 14, 15));
        }
    for (Py_ssize_t j = p8; j < p; j++) /* the last columns and rows one by one */
        for (Py_ssize_t i = 0; i < r8; i++)
            T[i * ldt + j] = C[j * ld + i];
    for (Py_ssize_t i = r8; i < r; i++)
        for (Py_ssize_t j = 0; j < p; j++)
            T[i * ldt + j] = C[j * ld + i];
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
   columns). Wider column-major blocks take the tiles; newtonglm.kernel sends wider row-major
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
   triangle, ldg) and S may each be NULL. */
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
        /* Xp = [1 | A's rows], and eta = Xp bp + offset, in the one read of the chunk */
        for (Py_ssize_t i = 0; i < r; i++)
            eta[i] = (o ? bp[0] : 0.0) + (off && mode == PACK_FUSED ? off[s + i] : 0.0);
        if (col_major) {
            for (Py_ssize_t i = 0; i < r; i++) {
                double *xr = Xp + i * ldp;
                memset(xr + q, 0, (size_t)(ldp - q) * sizeof(double));
                if (o)
                    xr[0] = 1.0;
            }
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
                memset(xr + q, 0, (size_t)(ldp - q) * sizeof(double));
                if (o)
                    xr[0] = 1.0;
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
            U = Ug ? Ug + s : NULL;
        }
        /* Wp = W_i Xp_i, and the score S += U_i Xp_i */
        for (Py_ssize_t i = 0; i < r; i++) {
            const double *xr = Xp + i * ldp;
            double *wr = Wp + i * ldp;
            for (Py_ssize_t j = 0; G && j < ldp; j += 8)
                store8(wr + j, W[i] * load8(xr + j));
            for (Py_ssize_t j = 0; S && U && j < ldp; j += 8)
                store8(Sp + j, load8(Sp + j) + U[i] * load8(xr + j));
        }
        if (G)
            packed_gram(Wp, Xp, ldp, r, q, Gp);
    }
    for (Py_ssize_t a = 0; G && a < q; a++)
        for (Py_ssize_t b = a; b < q; b++)
            G[b * ldg + a] += Gp[a * ldp + b];
    for (Py_ssize_t a = 0; S && (mode != PACK_GIVEN || Ug) && a < q; a++)
        S[a] += Sp[a];
}

/* ---- Rows holding NaN or +-inf, in one read of the block ----

   x * 0 is 0 for every finite x and NaN for NaN and +-inf, so a sum of x * 0 is NaN exactly
   when one of its terms is non-finite (no overflow possible, unlike a plain row sum).
   Column-major: per row, summed column after column over a chunk of rows. Row-major: per
   column over a chunk of rows (independent sums, vectorised), and only a chunk found to hold
   a non-finite value is scanned row by row. acc holds max(p, CHUNK) doubles. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
static Py_ssize_t nonfinite(const double *A, Py_ssize_t ld, int col_major, Py_ssize_t m,
                            Py_ssize_t p, unsigned char *out, double *acc)
{
    Py_ssize_t count = 0;
    for (Py_ssize_t s = 0; s < m; s += CHUNK) {
        Py_ssize_t r = m - s < CHUNK ? m - s : CHUNK;
        if (col_major) {
            for (Py_ssize_t i = 0; i < r; i++)
                acc[i] = 0.0;
            for (Py_ssize_t j = 0; j < p; j++) {
                const double *c = A + j * ld + s;
                for (Py_ssize_t i = 0; i < r; i++)
                    acc[i] += c[i] * 0.0;
            }
            for (Py_ssize_t i = 0; i < r; i++) {
                out[s + i] = acc[i] != acc[i];
                count += out[s + i];
            }
            continue;
        }
        for (Py_ssize_t j = 0; j < p; j++)
            acc[j] = 0.0;
        for (Py_ssize_t i = 0; i < r; i++) {
            const double *row = A + (s + i) * ld;
            for (Py_ssize_t j = 0; j < p; j++)
                acc[j] += row[j] * 0.0;
        }
        int clean = 1;
        for (Py_ssize_t j = 0; j < p; j++)
            clean &= acc[j] == acc[j];
        for (Py_ssize_t i = 0; i < r; i++) {
            out[s + i] = 0;
            if (clean)
                continue;
            const double *row = A + (s + i) * ld;
            for (Py_ssize_t j = 0; j < p; j++)
                if (row[j] * 0.0 != 0.0) {
                    out[s + i] = 1;
                    count++;
                    break;
                }
        }
    }
    return count;
}

static int is_float64(const Py_buffer *b)
{
    /* "d", or with a byte-order prefix that means this machine's order (arrays rebuilt from
       bytes, e.g. by Dask's distributed scheduler, say "<d"). */
    const char *f = b->format;
    if (b->itemsize != 8 || f == NULL)
        return 0;
#if PY_BIG_ENDIAN
    if (*f == '@' || *f == '=' || *f == '>' || *f == '!')
        f++;
#else
    if (*f == '@' || *f == '=' || *f == '<')
        f++;
#endif
    return strcmp(f, "d") == 0;
}

static void release(Py_buffer *b)
{
    if (b->obj)
        PyBuffer_Release(b);
}

/* The 2-D float64 block A: its shape, whether it is column-major (unit row stride, columns at
   least m apart) or row-major (the other way round), and its leading dimension (the distance
   between columns, or between rows, in doubles). Sets ValueError for any other block. */
static int get_block(PyObject *obj, Py_buffer *a, Py_ssize_t *m, Py_ssize_t *p, Py_ssize_t *ld,
                     int *col_major)
{
    if (PyObject_GetBuffer(obj, a, PyBUF_STRIDES | PyBUF_FORMAT) < 0)
        return -1;
    if (a->ndim != 2 || !is_float64(a)) {
        PyErr_SetString(PyExc_ValueError, "A must be a 2-D float64 block");
        return -1;
    }
    Py_ssize_t rows = a->shape[0], cols = a->shape[1];
    /* An exporter may leave strides NULL for a C-contiguous buffer (ctypes does). */
    Py_ssize_t s0 = a->strides ? a->strides[0] : 8 * cols, s1 = a->strides ? a->strides[1] : 8;
    int col = cols == 0 || ((rows <= 1 || s0 == 8) &&
                            (cols == 1 || (s1 % 8 == 0 && s1 >= 8 * rows)));
    int row = (cols <= 1 || s1 == 8) && (rows <= 1 || (s0 % 8 == 0 && s0 >= 8 * cols));
    if (!col && !row) {
        PyErr_SetString(PyExc_ValueError,
                        "A must be a column-major or row-major float64 block (unit stride "
                        "along its columns or its rows)");
        return -1;
    }
    *m = rows;
    *p = cols;
    *col_major = col;
    *ld = col ? (cols > 1 ? s1 / 8 : rows) : (rows > 1 ? s0 / 8 : cols);
    return 0;
}

static PyObject *py_wgram(PyObject *self, PyObject *args)
{
    PyObject *a_obj, *w_obj, *u_obj, *g_obj;
    int intercept, kernel = -1;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOp|i", &a_obj, &w_obj, &u_obj, &g_obj, &intercept, &kernel))
        return NULL;
    Py_buffer a = {0}, w = {0}, u = {0}, g = {0};
    int have_u = u_obj != Py_None, col_major;
    Py_ssize_t m, p, ld;
    PyObject *result = NULL;
    if (get_block(a_obj, &a, &m, &p, &ld, &col_major) < 0)
        goto done;
    if (PyObject_GetBuffer(w_obj, &w, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        goto done;
    if (have_u && PyObject_GetBuffer(u_obj, &u, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        goto done;
    if (PyObject_GetBuffer(g_obj, &g, PyBUF_F_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0)
        goto done;
    Py_ssize_t q = p + (intercept ? 1 : 0) + (have_u ? 1 : 0);
    if (w.ndim != 1 || !is_float64(&w) || w.shape[0] != m ||
        (have_u && (u.ndim != 1 || !is_float64(&u) || u.shape[0] != m))) {
        PyErr_SetString(PyExc_ValueError, "w and u must be float64 vectors of A's length");
        goto done;
    }
    if (g.ndim != 2 || !is_float64(&g) || g.shape[0] != q || g.shape[1] != q) {
        PyErr_SetString(PyExc_ValueError, "G must be a Fortran-ordered float64 (q, q) array");
        goto done;
    }
    {
        const double *ap = a.buf, *wp = w.buf, *up = have_u ? u.buf : NULL;
        double *gp = g.buf;
        if (use_packed(kernel, col_major, p)) {
            double *scratch = PyMem_RawMalloc(packed_scratch(p, intercept) * sizeof(double));
            if (scratch == NULL) {
                PyErr_NoMemory();
                goto done;
            }
            sums_t unused;
            Py_BEGIN_ALLOW_THREADS
            packed_pass(ap, ld, col_major, m, p, intercept, PACK_GIVEN, NULL, NULL, NULL, NULL,
                        0, wp, up, gp, q, up ? gp + (q - 1) * q : NULL, NULL, &unused,
                        scratch);
            Py_END_ALLOW_THREADS
            PyMem_RawFree(scratch);
        } else if (col_major) {
            Py_BEGIN_ALLOW_THREADS
            wgram(ap, ld, m, p, wp, up, gp, q, up ? gp + (q - 1) * q : NULL, intercept);
            Py_END_ALLOW_THREADS
        } else {
            double *T = PyMem_RawMalloc((size_t)((transposed_rows(p) + 8) * p) * sizeof(double));
            if (T == NULL) {
                PyErr_NoMemory();
                goto done;
            }
            Py_BEGIN_ALLOW_THREADS
            wgram_rows(ap, ld, m, p, wp, up, gp, q, up ? gp + (q - 1) * q : NULL, intercept, T);
            Py_END_ALLOW_THREADS
            PyMem_RawFree(T);
        }
    }
    result = Py_None;
    Py_INCREF(result);
done:
    release(&a);
    release(&w);
    release(&u);
    release(&g);
    return result;
}

/* A float64 vector of length m (C-contiguous), or None when allowed. */
static int get_vector(PyObject *obj, Py_buffer *b, Py_ssize_t m, int writable, int optional,
                      const char *name)
{
    if (obj == Py_None) {
        if (optional)
            return 0;
        PyErr_Format(PyExc_ValueError, "%s must not be None", name);
        return -1;
    }
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, b, flags) < 0)
        return -1;
    if (b->ndim != 1 || !is_float64(b) || b->shape[0] != m) {
        PyErr_Format(PyExc_ValueError, "%s must be a contiguous float64 vector of length %zd",
                     name, m);
        return -1;
    }
    return 0;
}

static int check_family(int fam)
{
    if (fam < 0 || fam >= N_FAMILIES) {
        PyErr_Format(PyExc_ValueError, "unknown family code %d", fam);
        return -1;
    }
    return 0;
}

static PyObject *py_glm_rows(PyObject *self, PyObject *args)
{
    PyObject *eta_obj, *y_obj, *w_obj, *W_obj, *U_obj;
    int fam;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOiOO", &eta_obj, &y_obj, &w_obj, &fam, &W_obj, &U_obj))
        return NULL;
    if (check_family(fam) < 0)
        return NULL;
    Py_buffer eta = {0}, y = {0}, w = {0}, W = {0}, U = {0};
    PyObject *result = NULL;
    if (PyObject_GetBuffer(eta_obj, &eta, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return NULL;
    if (eta.ndim != 1 || !is_float64(&eta)) {
        PyErr_SetString(PyExc_ValueError, "eta must be a contiguous float64 vector");
        goto done;
    }
    Py_ssize_t m = eta.shape[0];
    if (get_vector(y_obj, &y, m, 0, 0, "y") < 0 || get_vector(w_obj, &w, m, 0, 1, "w") < 0 ||
        get_vector(W_obj, &W, m, 1, 0, "W") < 0 || get_vector(U_obj, &U, m, 1, 0, "U") < 0)
        goto done;
    sums_t s;
    memset(&s, 0, sizeof s);
    Py_BEGIN_ALLOW_THREADS
    glm_rows_block(fam, eta.buf, y.buf, w.obj ? w.buf : NULL, m, W.buf, U.buf, &s);
    Py_END_ALLOW_THREADS
    result = sums_result(&s);
done:
    release(&eta);
    release(&y);
    release(&w);
    release(&W);
    release(&U);
    return result;
}

static PyObject *py_glm_pass(PyObject *self, PyObject *args)
{
    PyObject *a_obj, *coef_obj, *off_obj, *y_obj, *w_obj, *g_obj, *s_obj, *wout_obj;
    int intercept, fam, kernel = -1;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOpOOOiOOO|i", &a_obj, &coef_obj, &intercept, &off_obj, &y_obj,
                          &w_obj, &fam, &g_obj, &s_obj, &wout_obj, &kernel))
        return NULL;
    if (check_family(fam) < 0)
        return NULL;
    Py_buffer a = {0}, coef = {0}, off = {0}, y = {0}, w = {0}, g = {0}, sv = {0}, wout = {0};
    PyObject *result = NULL;
    double *scratch = NULL;
    Py_ssize_t m, p, ld;
    int col_major;
    if (get_block(a_obj, &a, &m, &p, &ld, &col_major) < 0)
        goto done;
    Py_ssize_t d = p + (intercept ? 1 : 0);
    int start = coef_obj == Py_None; /* R's start: W and U at mustart, no coefficients */
    if (get_vector(coef_obj, &coef, d, 0, 1, "coef") < 0 ||
        get_vector(off_obj, &off, m, 0, 1, "offset") < 0 ||
        get_vector(y_obj, &y, m, 0, 0, "y") < 0 || get_vector(w_obj, &w, m, 0, 1, "w") < 0 ||
        get_vector(s_obj, &sv, d, 1, 1, "S") < 0 ||
        get_vector(wout_obj, &wout, m, 1, 1, "wout") < 0)
        goto done;
    Py_ssize_t ldg = 0;
    if (g_obj != Py_None) {
        if (PyObject_GetBuffer(g_obj, &g, PyBUF_F_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0)
            goto done;
        if (g.ndim != 2 || !is_float64(&g) || g.shape[0] != g.shape[1] || g.shape[0] < d) {
            PyErr_SetString(PyExc_ValueError,
                            "G must be a Fortran-ordered float64 (q, q) array, q >= len(coef)");
            goto done;
        }
        ldg = g.shape[0];
    }
    if (use_packed(kernel, col_major, p)) {
        scratch = PyMem_RawMalloc(packed_scratch(p, intercept) * sizeof(double));
        if (scratch == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        sums_t s;
        memset(&s, 0, sizeof s);
        Py_BEGIN_ALLOW_THREADS
        packed_pass(a.buf, ld, col_major, m, p, intercept, start ? PACK_START : PACK_FUSED,
                    start ? NULL : coef.buf, off.obj ? off.buf : NULL, y.buf,
                    w.obj ? w.buf : NULL, fam, NULL, NULL, g.obj ? g.buf : NULL, ldg,
                    sv.obj ? sv.buf : NULL, wout.obj ? wout.buf : NULL, &s, scratch);
        Py_END_ALLOW_THREADS
        result = sums_result(&s);
    } else {
        Py_ssize_t ct = col_major ? 0 : transposed_rows(p);
        size_t n_scratch = 3 * (size_t)CHUNK + (col_major ? 0 : (size_t)((ct + 8) * p));
        scratch = PyMem_RawMalloc(n_scratch * sizeof(double));
        if (scratch == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        static const double no_coef[1] = {0.0};
        const double *cp = start ? no_coef : coef.buf;
        sums_t s;
        memset(&s, 0, sizeof s);
        Py_BEGIN_ALLOW_THREADS
        glm_pass(a.buf, ld, col_major, m, p, start ? cp : cp + (intercept ? 1 : 0),
                 (intercept && !start) ? cp[0] : 0.0,
                 off.obj ? off.buf : NULL, y.buf, w.obj ? w.buf : NULL, fam,
                 g.obj ? g.buf : NULL, ldg, sv.obj ? sv.buf : NULL, intercept,
                 wout.obj ? wout.buf : NULL, &s, scratch, scratch + 3 * CHUNK, start);
        Py_END_ALLOW_THREADS
        result = sums_result(&s);
    }
done:
    PyMem_RawFree(scratch);
    release(&a);
    release(&coef);
    release(&off);
    release(&y);
    release(&w);
    release(&g);
    release(&sv);
    release(&wout);
    return result;
}

static PyObject *py_nonfinite_rows(PyObject *self, PyObject *args)
{
    PyObject *a_obj, *out_obj;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO", &a_obj, &out_obj))
        return NULL;
    Py_buffer a = {0}, out = {0};
    PyObject *result = NULL;
    Py_ssize_t m, p, ld, count;
    int col_major;
    if (get_block(a_obj, &a, &m, &p, &ld, &col_major) < 0)
        goto done;
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE | PyBUF_FORMAT) < 0)
        goto done;
    if (out.ndim != 1 || out.itemsize != 1 || out.shape[0] != m) {
        PyErr_Format(PyExc_ValueError, "out must be a contiguous bool vector of length %zd", m);
        goto done;
    }
    {
        double *acc = PyMem_RawMalloc((size_t)(p > CHUNK ? p : CHUNK) * sizeof(double));
        if (acc == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        Py_BEGIN_ALLOW_THREADS
        count = nonfinite(a.buf, ld, col_major, m, p, out.buf, acc);
        Py_END_ALLOW_THREADS
        PyMem_RawFree(acc);
        result = PyLong_FromSsize_t(count);
    }
done:
    release(&a);
    release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"wgram", py_wgram, METH_VARARGS,
     "wgram(A, w, u, G, intercept[, kernel]): add the upper triangle of [1|A]ᵀ diag(w) [1|A] and, if u "
     "is not None, Σ u [1|A] as G's last column, to the Fortran-ordered G. A is a column-major "
     "or row-major float64 block; the GIL is released during the computation. kernel: -1 "
     "chooses by width, 0 the narrow tiles, 1 the packed kernel."},
    {"glm_rows", py_glm_rows, METH_VARARGS,
     "glm_rows(eta, y, w, family, W, U) -> (deviance, deviance_c, pearson, pearson_c, "
     "boundary): the per-row part of "
     "a pass for a canonical family code (0 binomial-logit, 1 Poisson-log, 2 Gaussian-identity): "
     "writes the working weights W and score weights U; w may be None (unit weights). Each sum "
     "comes as a compensated pair (sum, compensation)."},
    {"glm_pass", py_glm_pass, METH_VARARGS,
     "glm_pass(A, coef, intercept, offset, y, w, family, G, S, wout[, kernel]) -> (deviance, deviance_c, "
     "pearson, pearson_c, boundary): one fused pass over the block A at coef: adds the "
     "Gram's upper triangle to G and the score to S (either may be None); wout, if given, "
     "receives W. With coef None: R's start, the Gram of W and the score column Xᵀ W z at "
     "mustart (the sums returned are then 0). kernel as for wgram."},
    {"nonfinite_rows", py_nonfinite_rows, METH_VARARGS,
     "nonfinite_rows(A, out) -> count: out[i] = whether row i of the float64 block A (column- or "
     "row-major) holds NaN or +-inf; the GIL is released."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_gram", "Compiled weighted Gram kernel of newtonglm.kernel.", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__gram(void)
{
    PyObject *mod = PyModule_Create(&module);
    if (mod && PyModule_AddIntConstant(mod, "PACKED_MAX_COLS", PACKED_MAX_COLS) < 0) {
        Py_DECREF(mod);
        return NULL;
    }
    return mod;
}
