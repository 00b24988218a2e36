#include "scorers/math_compare.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>
#include <set>

namespace yardstick {

namespace {

using Kind = MathNodeKind;
using cd = std::complex<double>;

// Tolerances. Constant answers computed two ways in double precision agree to ~1e-15, so 1e-9
// accepts √8 = 2√2 and rejects 0.333 = 1/3 (a decimal where the exact value was asked for is wrong,
// as with a symbolic checker). Random-point evaluation of expressions loses more to cancellation.
constexpr double kNumericRel = 1e-9, kNumericAbs = 1e-12;
constexpr double kSymbolicRel = 1e-7, kSymbolicAbs = 1e-9;
constexpr int kRandomPoints = 6;
constexpr size_t kMaxExpansions = 16;   // ± alternatives kept before giving up on an answer

bool is_scalar_kind(Kind k) {
  switch (k) {
    case Kind::Number:
    case Kind::Symbol:
    case Kind::Constant:
    case Kind::Add:
    case Kind::Mul:
    case Kind::Div:
    case Kind::Pow:
    case Kind::Neg:
    case Kind::Func:
    case Kind::Factorial:
      return true;
    default:
      return false;
  }
}

MathScalar exact_value(const Rational& r) { return {r, cd(r.to_double(), 0.0)}; }
MathScalar approx_value(cd v) { return {std::nullopt, v}; }

bool is_real(cd v) { return v.imag() == 0.0; }

// ---------------------------------------------------------------- evaluation

std::optional<MathScalar> eval(const MathNode& n, const MathEnv& env);

std::optional<MathScalar> fold(const MathNode& n, const MathEnv& env,
                               std::optional<Rational> (*exact_op)(const Rational&, const Rational&),
                               cd (*approx_op)(cd, cd)) {
  std::optional<MathScalar> acc;
  for (const auto& c : n.children) {
    auto v = eval(c, env);
    if (!v) return std::nullopt;
    if (!acc) {
      acc = v;
      continue;
    }
    std::optional<Rational> exact;
    if (acc->exact && v->exact) exact = exact_op(*acc->exact, *v->exact);
    acc = exact ? exact_value(*exact) : approx_value(approx_op(acc->approx, v->approx));
  }
  return acc;
}

cd real_root_or_principal(cd base, double exponent) {
  // An odd root of a negative real is the real root (\sqrt[3]{-8} = -2), as people mean it.
  if (is_real(base) && base.real() < 0) {
    double inv = 1.0 / exponent;
    double rounded = std::round(inv);
    if (std::abs(inv - rounded) < 1e-12 && static_cast<long long>(rounded) % 2 != 0)
      return cd(-std::pow(-base.real(), exponent), 0.0);
  }
  return std::pow(base, cd(exponent, 0.0));
}

std::optional<MathScalar> eval_pow(const MathScalar& base, const MathScalar& exponent) {
  if (base.exact && exponent.exact) {
    const Rational& e = *exponent.exact;
    // Rational exponents p/q: the exact q-th root when there is one (\sqrt{16} = 4, 8^{2/3} = 4).
    if (e.den() <= 64 && e.num() >= -4096 && e.num() <= 4096) {
      auto root = e.is_integer() ? std::optional<Rational>(*base.exact) : exact_root(*base.exact, static_cast<int>(e.den()));
      if (root) {
        auto p = pow_int(*root, static_cast<long long>(e.num()));
        if (p) return exact_value(*p);
      }
    }
  }
  cd b = base.approx, x = exponent.approx;
  if (is_real(b) && is_real(x)) {
    if (b.real() >= 0) return approx_value(cd(std::pow(b.real(), x.real()), 0.0));
    double xr = x.real();
    if (xr == std::round(xr)) return approx_value(cd(std::pow(b.real(), xr), 0.0));
    if (exponent.exact && exponent.exact->den() % 2 == 1) {
      // (-8)^{2/3}: the real odd root, then the integer power.
      double root = -std::pow(-b.real(), 1.0 / static_cast<double>(exponent.exact->den()));
      return approx_value(cd(std::pow(root, static_cast<double>(exponent.exact->num())), 0.0));
    }
    if (exponent.exact) return approx_value(real_root_or_principal(b, xr));
  }
  return approx_value(std::pow(b, x));
}

std::optional<Rational> factorial(long long n) {
  Rational acc(1);
  for (long long k = 2; k <= n; ++k) {
    auto next = mul(acc, Rational(k));
    if (!next) return std::nullopt;
    acc = *next;
  }
  return acc;
}

Rational::Int int_gcd(Rational::Int a, Rational::Int b) {
  while (b != 0) {
    Rational::Int t = a % b;
    a = b;
    b = t;
  }
  return a;
}

std::optional<Rational> exact_integer(const MathScalar& v) {
  if (v.exact && v.exact->is_integer()) return v.exact;
  return std::nullopt;
}

std::optional<MathScalar> eval_func(const MathNode& n, const MathEnv& env) {
  std::vector<MathScalar> args;
  for (const auto& c : n.children) {
    auto v = eval(c, env);
    if (!v) return std::nullopt;
    args.push_back(*v);
  }
  const std::string& f = n.name;
  if (args.empty()) return std::nullopt;
  const MathScalar& a = args[0];
  cd x = a.approx;
  if (args.size() == 1) {
    if (f == "abs") {
      if (a.exact) return exact_value(a.exact->num() < 0 ? negate(*a.exact) : *a.exact);
      return approx_value(cd(std::abs(x), 0.0));
    }
    if (f == "floor" || f == "ceil") {
      if (!is_real(x)) return std::nullopt;
      if (a.exact) {
        Rational::Int q = a.exact->num() / a.exact->den(), r = a.exact->num() % a.exact->den();
        if (r != 0 && f == "floor" && a.exact->num() < 0) --q;
        if (r != 0 && f == "ceil" && a.exact->num() > 0) ++q;
        return exact_value(*Rational::make(q, 1));
      }
      return approx_value(cd(f == "floor" ? std::floor(x.real()) : std::ceil(x.real()), 0.0));
    }
    if (f == "sin") return approx_value(std::sin(x));
    if (f == "cos") return approx_value(std::cos(x));
    if (f == "tan") return approx_value(std::tan(x));
    if (f == "cot") return approx_value(1.0 / std::tan(x));
    if (f == "sec") return approx_value(1.0 / std::cos(x));
    if (f == "csc") return approx_value(1.0 / std::sin(x));
    if (f == "arcsin") return approx_value(std::asin(x));
    if (f == "arccos") return approx_value(std::acos(x));
    if (f == "arctan") return approx_value(std::atan(x));
    if (f == "arccot") return approx_value(std::atan(1.0 / x));
    if (f == "sinh") return approx_value(std::sinh(x));
    if (f == "cosh") return approx_value(std::cosh(x));
    if (f == "tanh") return approx_value(std::tanh(x));
    if (f == "exp") return approx_value(std::exp(x));
    // \log without a base: natural, as in analysis; both sides of a comparison read it the same way.
    if (f == "ln" || f == "log") return approx_value(std::log(x));
    if (f == "lg") return approx_value(std::log10(x));
    if (f == "det" || f == "max" || f == "min" || f == "gcd" || f == "lcm") return a;
    return std::nullopt;
  }
  if (args.size() == 2 && f == "log") return approx_value(std::log(args[1].approx) / std::log(a.approx));
  if (args.size() == 2 && f == "binom") {
    auto n_ = exact_integer(args[0]), k = exact_integer(args[1]);
    if (!n_ || !k) return std::nullopt;
    if (k->num() < 0 || k->num() > n_->num()) return exact_value(Rational(0));
    long long kk = static_cast<long long>(k->num());
    if (kk > 200) return std::nullopt;
    Rational acc(1);
    for (long long i = 1; i <= kk; ++i) {
      auto top = sub(*n_, Rational(kk - i));
      if (!top) return std::nullopt;
      auto next = mul(acc, *top);
      if (!next) return std::nullopt;
      auto q = div(*next, Rational(i));
      if (!q) return std::nullopt;
      acc = *q;
    }
    return exact_value(acc);
  }
  if (f == "max" || f == "min") {
    MathScalar best = args[0];
    for (const auto& v : args) {
      if (!is_real(v.approx)) return std::nullopt;
      if ((f == "max") == (v.approx.real() > best.approx.real())) best = v;
    }
    return best;
  }
  if (f == "gcd" || f == "lcm") {
    Rational::Int acc = 0;
    for (const auto& v : args) {
      auto i = exact_integer(v);
      if (!i) return std::nullopt;
      Rational::Int x_ = i->num() < 0 ? -i->num() : i->num();
      if (f == "gcd" || acc == 0) {
        acc = f == "gcd" ? int_gcd(acc, x_) : x_;
        continue;
      }
      auto l = mul(*Rational::make(acc / int_gcd(acc, x_), 1), *Rational::make(x_, 1));
      if (!l) return std::nullopt;
      acc = l->num();
    }
    return exact_value(*Rational::make(acc, 1));
  }
  return std::nullopt;
}

std::optional<MathScalar> eval(const MathNode& n, const MathEnv& env) {
  switch (n.kind) {
    case Kind::Number:
      return exact_value(n.value);
    case Kind::Symbol: {
      auto it = env.find(n.name);
      if (it == env.end()) return std::nullopt;
      return approx_value(it->second);
    }
    case Kind::Constant:
      if (n.name == "pi") return approx_value(cd(std::numbers::pi, 0.0));
      if (n.name == "e") return approx_value(cd(std::numbers::e, 0.0));
      if (n.name == "i") return approx_value(cd(0.0, 1.0));
      if (n.name == "inf") return approx_value(cd(INFINITY, 0.0));
      return std::nullopt;
    case Kind::Add:
      return fold(n, env, add, [](cd a, cd b) { return a + b; });
    case Kind::Mul:
      return fold(n, env, mul, [](cd a, cd b) {
        // inf * 1 stays inf; complex multiplication would turn the zero imaginary parts into NaN.
        if (is_real(a) && is_real(b)) return cd(a.real() * b.real(), 0.0);
        return a * b;
      });
    case Kind::Div:
      return fold(n, env, div, [](cd a, cd b) {
        if (is_real(a) && is_real(b)) return cd(a.real() / b.real(), 0.0);
        return a / b;
      });
    case Kind::Neg: {
      auto v = eval(n.children[0], env);
      if (!v) return std::nullopt;
      if (v->exact) return exact_value(negate(*v->exact));
      return approx_value(-v->approx);
    }
    case Kind::Pow: {
      auto base = eval(n.children[0], env);
      auto exponent = eval(n.children[1], env);
      if (!base || !exponent) return std::nullopt;
      return eval_pow(*base, *exponent);
    }
    case Kind::Factorial: {
      auto v = eval(n.children[0], env);
      if (!v) return std::nullopt;
      if (auto i = exact_integer(*v); i && i->num() >= 0 && i->num() <= 1000) {
        if (auto f = factorial(static_cast<long long>(i->num()))) return exact_value(*f);
        return approx_value(cd(std::tgamma(static_cast<double>(i->num()) + 1.0), 0.0));
      }
      if (!is_real(v->approx)) return std::nullopt;
      return approx_value(cd(std::tgamma(v->approx.real() + 1.0), 0.0));
    }
    case Kind::Func:
      return eval_func(n, env);
    default:
      return std::nullopt;
  }
}

// ---------------------------------------------------------------- ± expansion

MathNode make(Kind kind, std::vector<MathNode> children) {
  MathNode n;
  n.kind = kind;
  n.children = std::move(children);
  return n;
}

// Every way of choosing the signs of the ± inside a scalar or relation.
std::vector<MathNode> alternatives(const MathNode& n) {
  if (n.kind == Kind::PlusMinus) {
    std::vector<MathNode> out;
    for (const auto& a : alternatives(n.children[0])) {
      for (const auto& b : alternatives(n.children[1])) {
        MathNode plus = make(Kind::Add, {a, b});
        MathNode minus = make(Kind::Add, {a, make(Kind::Neg, {b})});
        if (n.sign > 0) {
          out.push_back(std::move(plus));
          out.push_back(std::move(minus));
        } else {
          out.push_back(std::move(minus));
          out.push_back(std::move(plus));
        }
        if (out.size() > kMaxExpansions) return {n};
      }
    }
    return out;
  }
  if (!is_scalar_kind(n.kind) && n.kind != Kind::Relation) return {n};
  std::vector<MathNode> out = {n};
  for (size_t i = 0; i < n.children.size(); ++i) {
    auto choices = alternatives(n.children[i]);
    if (choices.size() == 1) continue;
    std::vector<MathNode> next;
    for (const auto& partial : out) {
      for (const auto& c : choices) {
        MathNode copy = partial;
        copy.children[i] = c;
        next.push_back(std::move(copy));
      }
    }
    if (next.size() > kMaxExpansions) return {n};
    out = std::move(next);
  }
  return out;
}

// ---------------------------------------------------------------- comparison

void collect_symbols(const MathNode& n, std::set<std::string>& out) {
  if (n.kind == Kind::Symbol) out.insert(n.name);
  for (const auto& c : n.children) collect_symbols(c, out);
}

bool finite(cd v) { return std::isfinite(v.real()) && std::isfinite(v.imag()); }

bool has_infinity(const MathNode& n) {
  if (n.kind == Kind::Constant && n.name == "inf") return true;
  return std::any_of(n.children.begin(), n.children.end(), has_infinity);
}

bool close(cd a, cd b, double rel, double abs_tol) {
  if (!std::isfinite(a.real()) || !std::isfinite(a.imag()) || !std::isfinite(b.real()) ||
      !std::isfinite(b.imag()))
    return a == b;   // +inf equals +inf; NaN equals nothing
  double d = std::abs(a - b);
  return d <= abs_tol || d <= rel * std::max(std::abs(a), std::abs(b));
}

// Seeded values for every symbol, the same for both sides; away from 0 and 1 so that x and x^2,
// or x and 1/x, differ.
std::vector<MathEnv> random_points(const std::set<std::string>& symbols) {
  std::vector<MathEnv> points;
  std::mt19937_64 rng(0x5eed'1234'abcdULL);
  std::uniform_real_distribution<double> dist(1.15, 2.85);
  for (int k = 0; k < kRandomPoints; ++k) {
    MathEnv env;
    for (const auto& s : symbols) env[s] = cd(dist(rng), 0.0);
    points.push_back(std::move(env));
  }
  return points;
}

class Comparer {
 public:
  bool same(const MathNode& a, const MathNode& b) {
    // A sign in front of an interval, set or tuple ("-[0,1)") belongs to it: equal only to the
    // same structure with the same sign, never to a number or to the unsigned structure.
    if (negated_structure(a) || negated_structure(b)) {
      if (!negated_structure(a) || !negated_structure(b)) return false;
      structure_ = true;
      return same(a.children[0], b.children[0]);
    }
    if (is_collection(a) && is_collection(b)) return unordered(a.children, b.children);
    if (a.kind == Kind::Relation && b.kind == Kind::Relation) return relations(a, b);
    if (a.kind == Kind::Relation) return relation_vs_value(a, b);
    if (b.kind == Kind::Relation) return relation_vs_value(b, a);
    if (is_scalar_kind(a.kind) && is_scalar_kind(b.kind)) return scalars(a, b);
    if (a.kind == Kind::Matrix && b.kind == Kind::Bracketed) return vector_vs_tuple(a, b);
    if (b.kind == Kind::Matrix && a.kind == Kind::Bracketed) return vector_vs_tuple(b, a);
    if (a.kind != b.kind) return false;
    switch (a.kind) {
      case Kind::Bracketed:
        return a.open == b.open && a.close == b.close && ordered(a.children, b.children);
      case Kind::Matrix:
        return a.rows == b.rows && a.cols == b.cols && ordered(a.children, b.children);
      case Kind::Union:
        return unordered(a.children, b.children);
      case Kind::Text:
        note("text");
        return a.name == b.name;
      default:
        return false;
    }
  }

  std::string method() const {
    if (structure_) return "structure";
    return last_method_;
  }

 private:
  static bool is_collection(const MathNode& n) { return n.kind == Kind::List || n.kind == Kind::Set; }
  static bool negated_structure(const MathNode& n) {
    return n.kind == Kind::Neg && !is_scalar_kind(n.children[0].kind) && n.children[0].kind != Kind::PlusMinus;
  }

  void note(const char* m) { last_method_ = m; }

  bool ordered(const std::vector<MathNode>& a, const std::vector<MathNode>& b) {
    structure_ = true;
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (!same(a[i], b[i])) return false;
    return true;
  }

  bool unordered(const std::vector<MathNode>& a, const std::vector<MathNode>& b) {
    structure_ = true;
    if (a.size() != b.size()) return false;
    std::vector<bool> used(b.size(), false);
    for (const auto& x : a) {
      bool found = false;
      for (size_t j = 0; j < b.size() && !found; ++j) {
        if (!used[j] && same(x, b[j])) used[j] = found = true;
      }
      if (!found) return false;
    }
    return true;
  }

  // A column or row vector written as a matrix equals the tuple of its entries.
  bool vector_vs_tuple(const MathNode& m, const MathNode& t) {
    if ((m.rows != 1 && m.cols != 1) || t.open != '(' || t.close != ')') return false;
    return ordered(m.children, t.children);
  }

  bool scalars(const MathNode& a, const MathNode& b) {
    std::set<std::string> symbols;
    collect_symbols(a, symbols);
    collect_symbols(b, symbols);
    if (symbols.empty()) {
      auto va = evaluate_math(a), vb = evaluate_math(b);
      if (!va || !vb) return false;
      if (va->exact && vb->exact) {
        note("exact");
        return *va->exact == *vb->exact;
      }
      // A value that overflowed a double (2^{2005}) says nothing about equality; only \infty is infinite.
      if ((!finite(va->approx) && !has_infinity(a)) || (!finite(vb->approx) && !has_infinity(b))) return false;
      note("numeric");
      return close(va->approx, vb->approx, kNumericRel, kNumericAbs);
    }
    note("symbolic");
    int valid = 0;
    for (const auto& env : random_points(symbols)) {
      auto va = evaluate_math(a, env), vb = evaluate_math(b, env);
      if (!va || !vb) return false;
      if (std::isnan(va->approx.real()) && std::isnan(vb->approx.real())) continue;
      if (!close(va->approx, vb->approx, kSymbolicRel, kSymbolicAbs)) return false;
      ++valid;
    }
    return valid >= 2;
  }

  // An equality chain of constants alone: "2(3+4) = 14".
  static bool computation(const MathNode& rel) {
    if (!std::all_of(rel.ops.begin(), rel.ops.end(), [](const std::string& op) { return op == "="; })) return false;
    std::set<std::string> symbols;
    collect_symbols(rel, symbols);
    return symbols.empty();
  }

  static bool all_equals(const MathNode& rel) {
    return std::all_of(rel.ops.begin(), rel.ops.end(), [](const std::string& op) { return op == "=" || op == "in"; });
  }

  // "x = 5" (or "x = 2+3 = 5", "x \in [1,2]") against an answer without the variable: the last side;
  // so is the result of a computation without variables ("5 + 3 = 8", "\binom{5}{2} = 10"), never
  // one side of an equation in variables ("x + 3 = 0" is not 0). An inequality against an
  // interval: the interval it describes.
  bool relation_vs_value(const MathNode& rel, const MathNode& v) {
    if (all_equals(rel)) {
      if (rel.children[0].kind != Kind::Symbol && !computation(rel)) return false;
      return same(rel.children.back(), v);
    }
    auto interval = as_interval(rel);
    return interval && same(*interval, v);
  }

  bool relations(const MathNode& a, const MathNode& b) {
    structure_ = true;
    if (a.ops.size() == 1 && b.ops.size() == 1 && a.ops[0] == "=" && b.ops[0] == "=") {
      const MathNode &la = a.children[0], &lb = b.children[0];
      if (la.kind == Kind::Symbol && lb.kind == Kind::Symbol && la.name == lb.name)
        return same(a.children[1], b.children[1]);
      return proportional(a, b);
    }
    auto ia = as_interval(a), ib = as_interval(b);
    if (ia && ib) return same(*ia, *ib);
    if (a.ops != b.ops) return false;
    return ordered(a.children, b.children);
  }

  // Two equations are the same when (lhs - rhs) of one is a non-zero constant times the other's.
  bool proportional(const MathNode& a, const MathNode& b) {
    auto side = [](const MathNode& rel) {
      return make(Kind::Add, {rel.children[0], make(Kind::Neg, {rel.children[1]})});
    };
    MathNode fa = side(a), fb = side(b);
    std::set<std::string> symbols;
    collect_symbols(fa, symbols);
    collect_symbols(fb, symbols);
    if (symbols.empty()) return false;
    note("symbolic");
    std::optional<cd> ratio;
    for (const auto& env : random_points(symbols)) {
      auto va = evaluate_math(fa, env), vb = evaluate_math(fb, env);
      if (!va || !vb) return false;
      bool za = std::abs(va->approx) < kSymbolicAbs, zb = std::abs(vb->approx) < kSymbolicAbs;
      if (za != zb) return false;
      if (za) continue;
      cd r = va->approx / vb->approx;
      if (!ratio) {
        ratio = r;
      } else if (!close(*ratio, r, kSymbolicRel, kSymbolicAbs)) {
        return false;
      }
    }
    return ratio.has_value();
  }

  // "x > 3" -> (3, \infty); "1 \le x < 2" -> [1, 2); "3 < x" -> (3, \infty).
  static std::optional<MathNode> as_interval(const MathNode& rel) {
    auto bound = [](const MathNode& v, bool closed, bool upper) {
      return std::make_pair(v, closed ? (upper ? ']' : '[') : (upper ? ')' : '('));
    };
    auto is_less = [](const std::string& op) { return op == "<" || op == "le"; };
    auto is_greater = [](const std::string& op) { return op == ">" || op == "ge"; };
    auto closed = [](const std::string& op) { return op == "le" || op == "ge"; };
    MathNode inf;
    inf.kind = Kind::Constant;
    inf.name = "inf";
    MathNode neg_inf = make(Kind::Neg, {inf});
    std::pair<MathNode, char> lo = {neg_inf, '('}, hi = {inf, ')'};
    const auto& c = rel.children;
    if (rel.ops.size() == 1) {
      const std::string& op = rel.ops[0];
      if (c[0].kind == Kind::Symbol) {   // x op v
        if (is_less(op)) hi = bound(c[1], closed(op), true);
        else if (is_greater(op)) lo = bound(c[1], closed(op), false);
        else return std::nullopt;
      } else if (c[1].kind == Kind::Symbol) {   // v op x
        if (is_less(op)) lo = bound(c[0], closed(op), false);
        else if (is_greater(op)) hi = bound(c[0], closed(op), true);
        else return std::nullopt;
      } else {
        return std::nullopt;
      }
    } else if (rel.ops.size() == 2 && c[1].kind == Kind::Symbol) {
      if (is_less(rel.ops[0]) && is_less(rel.ops[1])) {
        lo = bound(c[0], closed(rel.ops[0]), false);
        hi = bound(c[2], closed(rel.ops[1]), true);
      } else if (is_greater(rel.ops[0]) && is_greater(rel.ops[1])) {
        hi = bound(c[0], closed(rel.ops[0]), true);
        lo = bound(c[2], closed(rel.ops[1]), false);
      } else {
        return std::nullopt;
      }
    } else {
      return std::nullopt;
    }
    MathNode out = make(Kind::Bracketed, {lo.first, hi.first});
    out.open = lo.second;
    out.close = hi.second;
    return out;
  }

  bool structure_ = false;
  std::string last_method_;
};

MathNode flatten_lists(MathNode n) {
  if (n.kind == Kind::List || n.kind == Kind::Set) {
    std::vector<MathNode> items;
    for (auto& c : n.children) {
      MathNode e = expand_plus_minus(std::move(c));
      if (e.kind == Kind::List) {
        for (auto& x : e.children) items.push_back(std::move(x));
      } else {
        items.push_back(std::move(e));
      }
    }
    n.children = std::move(items);
    if (n.kind == Kind::List && n.children.size() == 1) return std::move(n.children[0]);
    return n;
  }
  if (n.kind == Kind::Bracketed || n.kind == Kind::Matrix || n.kind == Kind::Union) {
    for (auto& c : n.children) c = expand_plus_minus(std::move(c));
    return n;
  }
  auto alts = alternatives(n);
  if (alts.size() == 1) return n;
  return make(Kind::List, std::move(alts));
}

}  // namespace

std::optional<MathScalar> evaluate_math(const MathNode& node, const MathEnv& env) { return eval(node, env); }

MathNode expand_plus_minus(const MathNode& node) { return flatten_lists(node); }

MathEquivalence math_equivalent(const MathNode& a, const MathNode& b) {
  Comparer c;
  bool eq = c.same(expand_plus_minus(a), expand_plus_minus(b));
  return {eq, c.method()};
}

}  // namespace yardstick
