#include "scorers/rational.h"

#include <cmath>
#include <limits>

namespace yardstick {

namespace {

using Int = Rational::Int;

constexpr Int kIntMin = static_cast<Int>(static_cast<unsigned __int128>(1) << 127);

Int abs_int(Int v) { return v < 0 ? -v : v; }

Int gcd(Int a, Int b) {
  a = abs_int(a);
  b = abs_int(b);
  while (b != 0) {
    Int t = a % b;
    a = b;
    b = t;
  }
  return a;
}

std::optional<Int> checked_mul(Int a, Int b) {
  Int r;
  if (__builtin_mul_overflow(a, b, &r) || r == kIntMin) return std::nullopt;
  return r;
}

std::optional<Int> checked_add(Int a, Int b) {
  Int r;
  if (__builtin_add_overflow(a, b, &r) || r == kIntMin) return std::nullopt;
  return r;
}

// v^e for e >= 0 by repeated squaring, nullopt on overflow.
std::optional<Int> checked_pow(Int v, long long e) {
  Int result = 1;
  Int base = v;
  while (e > 0) {
    if (e & 1) {
      auto r = checked_mul(result, base);
      if (!r) return std::nullopt;
      result = *r;
    }
    e >>= 1;
    if (e > 0) {
      auto b = checked_mul(base, base);
      if (!b) return std::nullopt;
      base = *b;
    }
  }
  return result;
}

// The integer n-th root of v >= 0 when v is a perfect n-th power.
std::optional<Int> exact_int_root(Int v, int n) {
  if (v < 0) return std::nullopt;
  if (v < 2 || n == 1) return v;
  // The double estimate is off by at most a little for 127-bit values; check neighbours exactly.
  long double guess = std::round(std::pow(static_cast<long double>(v), 1.0L / n));
  for (long double d = -2; d <= 2; ++d) {
    long double c = guess + d;
    if (c < 0 || c > static_cast<long double>(std::numeric_limits<long long>::max())) continue;
    Int candidate = static_cast<Int>(static_cast<long long>(c));
    auto p = checked_pow(candidate, n);
    if (p && *p == v) return candidate;
  }
  return std::nullopt;
}

}  // namespace

std::optional<Rational> Rational::make(Int num, Int den) {
  if (den == 0 || num == kIntMin || den == kIntMin) return std::nullopt;
  if (den < 0) {
    num = -num;
    den = -den;
  }
  Int g = gcd(num, den);
  Rational r;
  r.num_ = g > 1 ? num / g : num;
  r.den_ = g > 1 ? den / g : den;
  return r;
}

std::optional<Rational> Rational::from_decimal(std::string_view text) {
  if (text.empty()) return std::nullopt;
  Int num = 0, den = 1;
  bool seen_dot = false, seen_digit = false;
  for (char c : text) {
    if (c == '.') {
      if (seen_dot) return std::nullopt;
      seen_dot = true;
      continue;
    }
    if (c < '0' || c > '9') return std::nullopt;
    seen_digit = true;
    auto n = checked_mul(num, 10);
    if (!n) return std::nullopt;
    auto n2 = checked_add(*n, c - '0');
    if (!n2) return std::nullopt;
    num = *n2;
    if (seen_dot) {
      auto d = checked_mul(den, 10);
      if (!d) return std::nullopt;
      den = *d;
    }
  }
  if (!seen_digit) return std::nullopt;
  return make(num, den);
}

double Rational::to_double() const {
  return static_cast<double>(static_cast<long double>(num_) / static_cast<long double>(den_));
}

std::string int128_to_string(Int v) {
  if (v == 0) return "0";
  bool negative = v < 0;
  unsigned __int128 u = negative ? static_cast<unsigned __int128>(-(v + 1)) + 1 : static_cast<unsigned __int128>(v);
  std::string s;
  for (; u > 0; u /= 10) s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(u % 10)));
  return negative ? "-" + s : s;
}

std::string Rational::to_string() const {
  return den_ == 1 ? int128_to_string(num_) : int128_to_string(num_) + "/" + int128_to_string(den_);
}

std::optional<Rational> add(const Rational& a, const Rational& b) {
  // a/b + c/d over the lcm of the denominators keeps intermediates small.
  Int g = gcd(a.den(), b.den());
  auto left = checked_mul(a.num(), b.den() / g);
  auto right = checked_mul(b.num(), a.den() / g);
  auto den = checked_mul(a.den() / g, b.den());
  if (!left || !right || !den) return std::nullopt;
  auto num = checked_add(*left, *right);
  if (!num) return std::nullopt;
  return Rational::make(*num, *den);
}

std::optional<Rational> sub(const Rational& a, const Rational& b) { return add(a, negate(b)); }

std::optional<Rational> mul(const Rational& a, const Rational& b) {
  // Cross-cancel first so products of reduced fractions overflow only when the result does.
  Int g1 = gcd(a.num(), b.den()), g2 = gcd(b.num(), a.den());
  if (g1 == 0) g1 = 1;
  if (g2 == 0) g2 = 1;
  auto num = checked_mul(a.num() / g1, b.num() / g2);
  auto den = checked_mul(a.den() / g2, b.den() / g1);
  if (!num || !den) return std::nullopt;
  return Rational::make(*num, *den);
}

std::optional<Rational> div(const Rational& a, const Rational& b) {
  if (b.is_zero()) return std::nullopt;
  auto inverse = Rational::make(b.den(), b.num());
  if (!inverse) return std::nullopt;
  return mul(a, *inverse);
}

Rational negate(const Rational& a) { return *Rational::make(-a.num(), a.den()); }

std::optional<Rational> pow_int(const Rational& a, long long e) {
  if (e == 0) return Rational(1);
  if (a.is_zero()) return e > 0 ? std::optional<Rational>(Rational(0)) : std::nullopt;
  if (e > 4096 || e < -4096) {
    // Only 0, 1 and -1 stay representable; anything else overflows 128 bits long before this.
    if (a == Rational(1)) return a;
    if (a == Rational(-1)) return (e % 2 == 0) ? Rational(1) : a;
    return std::nullopt;
  }
  long long m = e < 0 ? -e : e;
  auto num = checked_pow(a.num(), m);
  auto den = checked_pow(a.den(), m);
  if (!num || !den) return std::nullopt;
  return e < 0 ? Rational::make(*den, *num) : Rational::make(*num, *den);
}

std::optional<Rational> exact_root(const Rational& a, int n) {
  if (n < 1) return std::nullopt;
  if (n == 1) return a;
  bool negative = a.num() < 0;
  if (negative && n % 2 == 0) return std::nullopt;
  auto num = exact_int_root(abs_int(a.num()), n);
  auto den = exact_int_root(a.den(), n);
  if (!num || !den) return std::nullopt;
  return Rational::make(negative ? -*num : *num, *den);
}

}  // namespace yardstick
