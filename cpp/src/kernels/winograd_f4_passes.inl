// F(4x4, 3x3)'s 1-D passes on registers whose lanes are tiles, for the hand-written float
// transforms (kernels/<isa>/winograd_<isa>.cpp include this inside their namespace after their
// Vec): V is Vec<float>, whose add, sub, fma and set1 the passes use.

namespace {

// out = B^T d for six vectors: the rows of B^T with points 0, 1, -1, 2, -2.
template <typename V>
inline void bt(const typename V::type* d, typename V::type* out) {
  const auto two = V::set1(2), m2 = V::set1(-2), four = V::set1(4), m4 = V::set1(-4), m5 = V::set1(-5);
  const auto d31 = V::sub(d[3], d[1]), d42 = V::sub(d[4], d[2]);
  out[0] = V::fma(four, d[0], V::fma(m5, d[2], d[4]));
  out[1] = V::fma(m4, V::add(d[1], d[2]), V::add(d[3], d[4]));
  out[2] = V::fma(four, V::sub(d[1], d[2]), V::sub(d[4], d[3]));
  out[3] = V::fma(two, d31, d42);
  out[4] = V::fma(m2, d31, d42);
  out[5] = V::fma(four, d[1], V::fma(m5, d[3], d[5]));
}

// out = A d for four vectors: six points 0, 1, -1, 2, -2 and infinity (the transpose of at).
template <typename V>
inline void a(const typename V::type* d, typename V::type* out) {
  const auto e = V::add(d[0], d[2]), o = V::add(d[1], d[3]);
  const auto e2 = V::fma(V::set1(4), d[2], d[0]), o2 = V::fma(V::set1(8), d[3], V::add(d[1], d[1]));
  out[0] = d[0];
  out[1] = V::add(e, o);
  out[2] = V::sub(e, o);
  out[3] = V::add(e2, o2);
  out[4] = V::sub(e2, o2);
  out[5] = d[3];
}

// out = A^T m for six vectors: four outputs from points 0, 1, -1, 2, -2 and infinity.
template <typename V>
inline void at(const typename V::type* m, typename V::type* out) {
  const auto sum12 = V::add(m[1], m[2]), diff12 = V::sub(m[1], m[2]);
  const auto sum34 = V::add(m[3], m[4]), diff34 = V::sub(m[3], m[4]);
  out[0] = V::add(V::add(m[0], sum12), sum34);
  out[1] = V::fma(V::set1(2), diff34, diff12);
  out[2] = V::fma(V::set1(4), sum34, sum12);
  out[3] = V::add(V::fma(V::set1(8), diff34, diff12), m[5]);
}

}  // namespace
