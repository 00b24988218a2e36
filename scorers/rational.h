// Exact rational numbers for grading math answers (`0.5` vs `\frac12`, `4/6` vs `2/3`): a signed
// 128-bit numerator over a positive 128-bit denominator, always in lowest terms. Every operation
// reports overflow as nullopt, so a caller falls back to floating point instead of wrapping.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace yardstick {

class Rational {
 public:
  using Int = __int128;

  Rational() = default;
  Rational(long long n) : num_(n) {}   // NOLINT: integers are rationals

  // num/den in lowest terms with a positive denominator; nullopt when den == 0.
  static std::optional<Rational> make(Int num, Int den);
  // A decimal literal as written: "12", "12.50", ".5", "007" (no sign, no exponent). nullopt
  // when it is not one or does not fit.
  static std::optional<Rational> from_decimal(std::string_view text);

  Int num() const { return num_; }
  Int den() const { return den_; }
  bool is_integer() const { return den_ == 1; }
  bool is_zero() const { return num_ == 0; }
  double to_double() const;
  std::string to_string() const;   // "p" or "p/q"

  friend bool operator==(const Rational&, const Rational&) = default;

 private:
  Int num_ = 0;
  Int den_ = 1;
};

std::optional<Rational> add(const Rational& a, const Rational& b);
std::optional<Rational> sub(const Rational& a, const Rational& b);
std::optional<Rational> mul(const Rational& a, const Rational& b);
std::optional<Rational> div(const Rational& a, const Rational& b);   // nullopt also for b == 0
Rational negate(const Rational& a);                                  // |num| < 2^127 always fits
// a^e for an integer exponent; nullopt on overflow, 0^negative, or |e| too large to be exact.
std::optional<Rational> pow_int(const Rational& a, long long e);
// The exact n-th root (n >= 1) when numerator and denominator are perfect n-th powers (and the
// value is non-negative for even n), else nullopt.
std::optional<Rational> exact_root(const Rational& a, int n);

std::string int128_to_string(Rational::Int v);

}  // namespace yardstick
