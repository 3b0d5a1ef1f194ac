/* Part of newtonglm's compiled kernel (_gram.c, which includes it after Python.h, string.h
   and math.h): the eight-lane float64 vector type (GCC/Clang's generic vector extension), its
   loads, lane masks, and the vector exp and log of the per-row part. */

#ifndef NEWTONGLM__GRAM_SIMD_H
#define NEWTONGLM__GRAM_SIMD_H

typedef double v8d __attribute__((vector_size(64), aligned(8)));

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

INLINE void store8(double *p, v8d v) { memcpy(p, &v, sizeof v); }

#if defined(__clang__)
#define SHUF(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define SHUF(a, b, ...) __builtin_shuffle(a, b, (v8l){__VA_ARGS__})
#endif

/* The 8 x 8 block at S (rows ls apart) transposed into D (rows ld apart), in registers:
   three rounds of two-vector shuffles, so both sides are read and written a vector at a
   time. */
INLINE void transpose8(const double *S, Py_ssize_t ls, double *D, Py_ssize_t ld)
{
    v8d c0 = load8(S), c1 = load8(S + ls), c2 = load8(S + 2 * ls), c3 = load8(S + 3 * ls),
        c4 = load8(S + 4 * ls), c5 = load8(S + 5 * ls), c6 = load8(S + 6 * ls),
        c7 = load8(S + 7 * ls);
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
    store8(D, SHUF(u0, u4, 0, 1, 2, 3, 8, 9, 10, 11));
    store8(D + ld, SHUF(u1, u5, 0, 1, 2, 3, 8, 9, 10, 11));
    store8(D + 2 * ld, SHUF(u2, u6, 0, 1, 2, 3, 8, 9, 10, 11));
    store8(D + 3 * ld, SHUF(u3, u7, 0, 1, 2, 3, 8, 9, 10, 11));
    store8(D + 4 * ld, SHUF(u0, u4, 4, 5, 6, 7, 12, 13, 14, 15));
    store8(D + 5 * ld, SHUF(u1, u5, 4, 5, 6, 7, 12, 13, 14, 15));
    store8(D + 6 * ld, SHUF(u2, u6, 4, 5, 6, 7, 12, 13, 14, 15));
    store8(D + 7 * ld, SHUF(u3, u7, 4, 5, 6, 7, 12, 13, 14, 15));
}

/* T[i][j] = C[j][i] for a column-major r x p chunk C (columns ld apart) into rows of T (ldt
   apart), by 8 x 8 blocks. */
INLINE void transpose_chunk(const double *C, Py_ssize_t ld, Py_ssize_t r, Py_ssize_t p,
                            double *T, Py_ssize_t ldt)
{
    Py_ssize_t r8 = r & ~(Py_ssize_t)7, p8 = p & ~(Py_ssize_t)7;
    for (Py_ssize_t i = 0; i < r8; i += 8)
        for (Py_ssize_t j = 0; j < p8; j += 8)
            transpose8(C + j * ld + i, ld, T + i * ldt + j, ldt);
    for (Py_ssize_t j = p8; j < p; j++) /* the last columns and rows one by one */
        for (Py_ssize_t i = 0; i < r8; i++)
            T[i * ldt + j] = C[j * ld + i];
    for (Py_ssize_t i = r8; i < r; i++)
        for (Py_ssize_t j = 0; j < p; j++)
            T[i * ldt + j] = C[j * ld + i];
}

/* The other way: a row-major r x p chunk A (rows ld apart) into the columns of T (ldt apart),
   eight whole rows at a time, so that A is read once, in order, as it streams in from
   memory. A 10,000 x 10 chunk in cache: 0.35 ns an element, against 0.62 element by element;
   from memory (1,000,000 x 20) 0.8 against 1.1, mostly the read itself. */
INLINE void transpose_rows(const double *A, Py_ssize_t ld, Py_ssize_t r, Py_ssize_t p,
                           double *T, Py_ssize_t ldt)
{
    Py_ssize_t r8 = r & ~(Py_ssize_t)7, p8 = p & ~(Py_ssize_t)7;
    for (Py_ssize_t i = 0; i < r8; i += 8) {
        const double *a = A + i * ld;
        for (Py_ssize_t j = 0; j < p8; j += 8)
            transpose8(a + j, ld, T + j * ldt + i, ldt);
        if (p8 < p && p >= 8) /* the last 8 columns again, overlapping the ones done */
            transpose8(a + p - 8, ld, T + (p - 8) * ldt + i, ldt);
        else
            for (Py_ssize_t j = p8; j < p; j++)
                for (Py_ssize_t k = 0; k < 8; k++)
                    T[j * ldt + i + k] = a[k * ld + j];
    }
    for (Py_ssize_t i = r8; i < r; i++)
        for (Py_ssize_t j = 0; j < p; j++)
            T[j * ldt + i] = A[i * ld + j];
}

#endif /* NEWTONGLM__GRAM_SIMD_H */
