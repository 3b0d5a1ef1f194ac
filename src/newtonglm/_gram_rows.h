/* Part of newtonglm's compiled kernel (_gram.c): the per-row part of a GLM pass for the
   canonical pairs (binomial-logit, Poisson-log, Gaussian-identity): from eta, the mean, the
   working weight W, the score weight U, the unit deviance and Pearson's term, eight rows at a
   time, with lane-wise compensated sums; and R's start (W and U at mustart). The arithmetic
   follows newtonglm.families row for row: the same clipping of the mean (R's), the same edge
   rules, the deviance in the forms that stay exact where the mean reaches its clip bounds. */

#ifndef NEWTONGLM__GRAM_ROWS_H
#define NEWTONGLM__GRAM_ROWS_H

enum { BINOMIAL_LOGIT = 0, POISSON_LOG = 1, GAUSSIAN_IDENTITY = 2, N_FAMILIES = 3 };

#define MU_EPS 2.220446049250313e-16        /* float64 eps: R's clip of the binomial mean */
#define MU_TINY 4.9406564584124654e-324     /* smallest subnormal, Poisson's ratio floor */
#define MAX_EXP 709.0                       /* the log link's cap on eta */

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

#endif /* NEWTONGLM__GRAM_ROWS_H */
