#include "scorers/latex_expr.h"

#include <cctype>
#include <set>
#include <utility>

namespace yardstick {

namespace {

using Kind = MathNodeKind;

// ---------------------------------------------------------------- tokens

enum class Tok { Num, Letter, Cmd, Punct, Word, End };

struct Token {
  Tok type = Tok::End;
  std::string text;   // Num: digits ("12", "0.5", "1.", thousands separators dropped); Letter: one
                      // letter or a Greek name; Cmd: command name without '\'; Punct: one char;
                      // Word: a run of three or more letters that is not a function name
};

// Thrown inside the parser only; parse_latex_expr turns it into nullopt.
struct NotMath {};

const std::set<std::string, std::less<>>& function_names() {
  static const std::set<std::string, std::less<>> names = {
      "sin",    "cos",    "tan",  "cot",  "sec",  "csc",  "arcsin", "arccos", "arctan", "sinh",
      "cosh",   "tanh",   "log",  "ln",   "exp",  "lg",   "gcd",    "lcm",    "max",    "min",
      "det",    "arccot", "arcsec", "arccsc"};
  return names;
}

const std::set<std::string, std::less<>>& greek_names() {
  static const std::set<std::string, std::less<>> names = {
      "alpha", "beta",  "gamma",  "delta", "epsilon", "varepsilon", "zeta", "eta",   "theta",
      "vartheta", "iota", "kappa", "lambda", "mu",    "nu",         "xi",   "rho",   "sigma",
      "tau",   "upsilon", "phi",  "varphi", "chi",   "psi",        "omega", "Gamma", "Delta",
      "Theta", "Lambda", "Xi",   "Sigma",  "Phi",   "Psi",        "Omega"};
  return names;
}

// Commands that only style their argument or space things out.
bool is_wrapper_command(std::string_view name) {
  static const std::set<std::string, std::less<>> names = {
      "text",   "textbf", "textrm", "textit", "mathrm", "mathbf", "mathit", "mbox",
      "boxed",  "fbox",   "textnormal", "boldsymbol", "bm", "mathsf", "texttt", "hbox"};
  return names.count(name) > 0;
}

bool is_ignored_command(std::string_view name) {
  static const std::set<std::string, std::less<>> names = {
      "left",  "right", "big",   "Big",   "bigl",  "bigr",   "Bigl",         "Bigr",
      "biggl", "biggr", "Biggl", "Biggr", "circ",  "degree", "displaystyle", "textstyle",
      "quad",  "qquad", "limits", "nolimits", "middle"};
  return names.count(name) > 0;
}

// Spelling variants of one command.
std::string canonical_command(std::string name) {
  if (name == "dfrac" || name == "tfrac" || name == "cfrac") return "frac";
  if (name == "dbinom" || name == "tbinom") return "binom";
  if (name == "leq" || name == "leqslant" || name == "leqq") return "le";
  if (name == "geq" || name == "geqslant" || name == "geqq") return "ge";
  if (name == "neq") return "ne";
  if (name == "lvert" || name == "rvert" || name == "vert" || name == "mid") return "|";
  if (name == "ast" || name == "times") return "cdot";
  if (name == "varnothing") return "emptyset";
  if (name == "lbrace") return "{";
  if (name == "rbrace") return "}";
  if (name == "lt") return "<";
  if (name == "gt") return ">";
  return name;
}

bool is_ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  std::vector<Token> run() {
    while (pos_ < s_.size()) step();
    out_.push_back({Tok::End, ""});
    return std::move(out_);
  }

 private:
  void step() {
    char c = s_[pos_];
    if (std::isspace(static_cast<unsigned char>(c)) || c == '~') {
      ++pos_;
    } else if (is_digit(c) || (c == '.' && pos_ + 1 < s_.size() && is_digit(s_[pos_ + 1]))) {
      number();
    } else if (is_ascii_letter(c)) {
      letters();
    } else if (c == '\\') {
      command();
    } else if (static_cast<unsigned char>(c) >= 0x80) {
      unicode();
    } else if (c == '<' && peek(1) == '=') {
      emit(Tok::Cmd, "le", 2);
    } else if (c == '>' && peek(1) == '=') {
      emit(Tok::Cmd, "ge", 2);
    } else if (c == ';') {
      emit(Tok::Punct, ",", 1);   // "1; 2" lists solutions like "1, 2"
    } else if (std::string_view("+-*/^_()[]{},=<>!|&'").find(c) != std::string_view::npos) {
      emit(Tok::Punct, std::string(1, c), 1);
    } else {
      throw NotMath{};
    }
  }

  char peek(size_t ahead) const { return pos_ + ahead < s_.size() ? s_[pos_ + ahead] : '\0'; }

  void emit(Tok type, std::string text, size_t advance) {
    out_.push_back({type, std::move(text)});
    pos_ += advance;
  }

  size_t digits_at(size_t p) const {
    size_t n = 0;
    while (p + n < s_.size() && is_digit(s_[p + n])) ++n;
    return n;
  }

  // 12, 3.5, .5, 1. (before \overline), 1,000,000 (separators grouped by three, only after a
  // leading group of one to three digits, so "1,2" stays two numbers).
  void number() {
    std::string text;
    size_t lead = digits_at(pos_);
    text.append(s_.substr(pos_, lead));
    pos_ += lead;
    if (lead >= 1 && lead <= 3) {
      while (peek(0) == ',' && digits_at(pos_ + 1) == 3 && !(pos_ + 4 < s_.size() && s_[pos_ + 4] == '.' &&
                                                               digits_at(pos_ + 5) == 0)) {
        text.append(s_.substr(pos_ + 1, 3));
        pos_ += 4;
      }
    }
    if (peek(0) == '.' && !(peek(1) == '.')) {
      size_t frac = digits_at(pos_ + 1);
      if (frac > 0 || s_.substr(pos_ + 1).starts_with("\\overline")) {
        text.append(s_.substr(pos_, frac + 1));
        pos_ += frac + 1;
      }
    }
    out_.push_back({Tok::Num, text});
  }

  void letters() {
    size_t n = 0;
    while (pos_ + n < s_.size() && is_ascii_letter(s_[pos_ + n])) ++n;
    std::string run(s_.substr(pos_, n));
    pos_ += n;
    if (function_names().count(run) || run == "sqrt") {
      out_.push_back({Tok::Cmd, run});
    } else if (run == "pi") {
      out_.push_back({Tok::Cmd, "pi"});
    } else if (run.size() >= 3) {
      out_.push_back({Tok::Word, run});
    } else {
      for (char c : run) out_.push_back({Tok::Letter, std::string(1, c)});
    }
  }

  void command() {
    char next = peek(1);
    if (next == '\\') return emit(Tok::Cmd, "\\\\", 2);
    if (next == '{' || next == '}') return emit(Tok::Cmd, std::string(1, next), 2);
    if (next == ',' || next == ';' || next == ':' || next == '!' || next == ' ' || next == '%' || next == '$') {
      pos_ += 2;   // spacing, or a percent/dollar sign the caller chose to keep
      return;
    }
    if (next == '|') return emit(Tok::Punct, "|", 2);
    if (!is_ascii_letter(next)) throw NotMath{};
    size_t n = 1;
    while (pos_ + 1 + n < s_.size() && is_ascii_letter(s_[pos_ + 1 + n])) ++n;
    std::string name = canonical_command(std::string(s_.substr(pos_ + 1, n)));
    pos_ += 1 + n;
    if (name == "begin" || name == "end") {
      // \begin{pmatrix}: the environment name is part of the token.
      while (peek(0) == ' ') ++pos_;
      if (peek(0) != '{') throw NotMath{};
      size_t close = s_.find('}', pos_);
      if (close == std::string_view::npos) throw NotMath{};
      name += ':';
      name.append(s_.substr(pos_ + 1, close - pos_ - 1));
      pos_ = close + 1;
      out_.push_back({Tok::Cmd, name});
      return;
    }
    if (is_ignored_command(name)) {
      if (peek(0) == '.') ++pos_;   // \left. and \right. are invisible delimiters
      return;
    }
    if (greek_names().count(name)) {
      out_.push_back({Tok::Letter, name});
      return;
    }
    out_.push_back({Tok::Cmd, name});
  }

  // The few non-ASCII symbols models write instead of commands.
  void unicode() {
    static const std::pair<std::string_view, std::pair<Tok, const char*>> table[] = {
        {"π", {Tok::Cmd, "pi"}},     {"∞", {Tok::Cmd, "infty"}}, {"√", {Tok::Cmd, "sqrt"}},
        {"±", {Tok::Cmd, "pm"}},     {"∓", {Tok::Cmd, "mp"}},    {"×", {Tok::Cmd, "cdot"}},
        {"·", {Tok::Cmd, "cdot"}},   {"⋅", {Tok::Cmd, "cdot"}},  {"÷", {Tok::Cmd, "div"}},
        {"−", {Tok::Punct, "-"}},    {"≤", {Tok::Cmd, "le"}},    {"≥", {Tok::Cmd, "ge"}},
        {"≠", {Tok::Cmd, "ne"}},     {"∪", {Tok::Cmd, "cup"}},   {"∅", {Tok::Cmd, "emptyset"}},
        {"θ", {Tok::Letter, "theta"}}, {"α", {Tok::Letter, "alpha"}}, {"β", {Tok::Letter, "beta"}}};
    std::string_view rest = s_.substr(pos_);
    if (rest.starts_with("°")) {
      pos_ += std::string_view("°").size();
      return;
    }
    for (const auto& [glyph, tok] : table) {
      if (rest.starts_with(glyph)) {
        out_.push_back({tok.first, tok.second});
        pos_ += glyph.size();
        return;
      }
    }
    throw NotMath{};
  }

  std::string_view s_;
  size_t pos_ = 0;
  std::vector<Token> out_;
};

// ---------------------------------------------------------------- tree builders

MathNode leaf(Kind kind, std::string name) {
  MathNode n;
  n.kind = kind;
  n.name = std::move(name);
  return n;
}

MathNode number(const Rational& v) {
  MathNode n;
  n.kind = Kind::Number;
  n.value = v;
  return n;
}

MathNode node(Kind kind, std::vector<MathNode> children) {
  MathNode n;
  n.kind = kind;
  n.children = std::move(children);
  return n;
}

MathNode binary(Kind kind, MathNode a, MathNode b) {
  std::vector<MathNode> c;
  c.push_back(std::move(a));
  c.push_back(std::move(b));
  return node(kind, std::move(c));
}

MathNode unary(Kind kind, MathNode a) {
  std::vector<MathNode> c;
  c.push_back(std::move(a));
  return node(kind, std::move(c));
}

// Appends to an n-ary node of the same kind instead of nesting: (a*b)*c -> (mul a b c).
MathNode nary(Kind kind, MathNode left, MathNode right) {
  if (left.kind == kind) {
    left.children.push_back(std::move(right));
    return left;
  }
  return binary(kind, std::move(left), std::move(right));
}

bool is_positive_integer(const MathNode& n) {
  return n.kind == Kind::Number && n.value.is_integer() && n.value.num() > 0;
}

// A digit string with a repeating tail, "0.1" + "6" -> 1/6.
Rational repeating_decimal(const std::string& fixed, const std::string& repeating) {
  size_t dot = fixed.find('.');
  std::string int_part = fixed.substr(0, dot);
  std::string frac = dot == std::string::npos ? "" : fixed.substr(dot + 1);
  auto all = Rational::from_decimal((int_part.empty() ? "0" : int_part) + frac + repeating);
  auto head = Rational::from_decimal((int_part.empty() ? "0" : int_part) + frac);
  auto scale = pow_int(Rational(10), static_cast<long long>(frac.size()));
  auto period = pow_int(Rational(10), static_cast<long long>(repeating.size()));
  if (!all || !head || !scale || !period) throw NotMath{};
  auto numerator = sub(*all, *head);
  auto den = sub(*period, Rational(1));
  if (!numerator || !den) throw NotMath{};
  auto den_total = mul(*scale, *den);
  if (!den_total) throw NotMath{};
  auto v = div(*numerator, *den_total);
  if (!v) throw NotMath{};
  return *v;
}

// ---------------------------------------------------------------- parser

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  MathNode top() {
    auto items = items_until([](const Token& t) { return t.type == Tok::End; });
    if (items.empty()) throw NotMath{};
    MathNode out = items.size() == 1 ? std::move(items[0]) : node(Kind::List, std::move(items));
    if (peek().type != Tok::End) throw NotMath{};
    return out;
  }

 private:
  // A guard on recursion so a pathological answer ("((((((...") can't exhaust the stack.
  struct Depth {
    explicit Depth(int& d) : d_(d) {
      if (++d_ > 200) throw NotMath{};
    }
    ~Depth() { --d_; }
    int& d_;
  };

  const Token& peek(size_t ahead = 0) const {
    size_t i = std::min(i_ + ahead, t_.size() - 1);
    return t_[i];
  }
  bool is(Tok type, std::string_view text) const { return peek().type == type && peek().text == text; }
  bool punct(std::string_view c) const { return is(Tok::Punct, c); }
  bool cmd(std::string_view name) const { return is(Tok::Cmd, name); }
  Token take() {
    Token t = peek();
    if (i_ < t_.size() - 1) ++i_;
    return t;
  }
  void expect(Tok type, std::string_view text) {
    if (!is(type, text)) throw NotMath{};
    take();
  }

  // Comma-separated items up to (not including) the token `stop` accepts.
  template <class Stop>
  std::vector<MathNode> items_until(Stop stop) {
    Depth guard(depth_);
    std::vector<MathNode> items;
    if (stop(peek())) return items;
    items.push_back(relation());
    while (punct(",")) {
      take();
      items.push_back(relation());
    }
    if (!stop(peek())) throw NotMath{};
    return items;
  }

  std::optional<std::string> relation_op() const {
    if (punct("=")) return "=";
    if (punct("<")) return "<";
    if (punct(">")) return ">";
    if (cmd("le") || cmd("ge") || cmd("ne") || cmd("in")) return peek().text;
    return std::nullopt;
  }

  MathNode relation() {
    MathNode first = union_();
    if (!relation_op()) return first;
    MathNode rel = unary(Kind::Relation, std::move(first));
    while (auto op = relation_op()) {
      take();
      rel.ops.push_back(*op);
      rel.children.push_back(union_());
    }
    return rel;
  }

  MathNode union_() {
    MathNode first = sum();
    while (cmd("cup")) {
      take();
      first = nary(Kind::Union, std::move(first), sum());
    }
    return first;
  }

  MathNode sum() {
    Depth guard(depth_);
    MathNode acc = term();
    for (;;) {
      if (punct("+")) {
        take();
        acc = nary(Kind::Add, std::move(acc), term());
      } else if (punct("-")) {
        take();
        acc = nary(Kind::Add, std::move(acc), unary(Kind::Neg, term()));
      } else if (cmd("pm") || cmd("mp")) {
        int sign = take().text == "pm" ? 1 : -1;
        MathNode pm = binary(Kind::PlusMinus, std::move(acc), term());
        pm.sign = sign;
        acc = std::move(pm);
      } else {
        return acc;
      }
    }
  }

  // Whether the next token can begin a factor of an implicit product ("2x", "3\sqrt2", "(x+1)(x-1)").
  // Not '[' (an interval) and not '|' (it may close an absolute value).
  bool starts_implicit_factor() const {
    const Token& t = peek();
    switch (t.type) {
      case Tok::Num:
      case Tok::Letter:
        return true;
      case Tok::Punct:
        return t.text == "(" || t.text == "{";
      case Tok::Cmd:
        return t.text == "frac" || t.text == "sqrt" || t.text == "pi" || t.text == "binom" || t.text == "infty" ||
               t.text == "lfloor" || t.text == "lceil" || function_names().count(t.text) > 0 ||
               is_wrapper_command(t.text);
      default:
        return false;
    }
  }

  MathNode term() {
    Depth guard(depth_);
    MathNode acc = signed_factor();
    for (;;) {
      if (punct("*") || cmd("cdot")) {
        take();
        acc = nary(Kind::Mul, std::move(acc), signed_factor());
      } else if (punct("/") || cmd("div")) {
        take();
        acc = binary(Kind::Div, std::move(acc), signed_factor());
      } else if (starts_implicit_factor()) {
        bool frac_next = cmd("frac");
        MathNode next = power();
        // A whole number written against a fraction of whole numbers is a mixed number:
        // "2\frac{1}{2}" is 5/2 and "-2\frac{1}{2}" is -5/2, as in MATH's prealgebra answers.
        bool simple_fraction = frac_next && next.kind == Kind::Div && is_positive_integer(next.children[0]) &&
                               is_positive_integer(next.children[1]);
        if (simple_fraction && is_positive_integer(acc)) {
          acc = binary(Kind::Add, std::move(acc), std::move(next));
        } else if (simple_fraction && acc.kind == Kind::Neg && is_positive_integer(acc.children[0])) {
          acc = unary(Kind::Neg, binary(Kind::Add, std::move(acc.children[0]), std::move(next)));
        } else {
          acc = nary(Kind::Mul, std::move(acc), std::move(next));
        }
      } else {
        return acc;
      }
    }
  }

  MathNode signed_factor() {
    Depth guard(depth_);
    if (punct("-")) {
      take();
      return unary(Kind::Neg, signed_factor());
    }
    if (punct("+")) {
      take();
      return signed_factor();
    }
    if (cmd("pm") || cmd("mp")) {
      int sign = take().text == "pm" ? 1 : -1;
      MathNode pm = binary(Kind::PlusMinus, number(Rational(0)), signed_factor());
      pm.sign = sign;
      return pm;
    }
    return power();
  }

  MathNode power() {
    Depth guard(depth_);
    MathNode base = postfix();
    while (punct("^")) {
      take();
      base = binary(Kind::Pow, std::move(base), script_arg());
      while (punct("!")) {
        take();
        base = unary(Kind::Factorial, std::move(base));
      }
    }
    return base;
  }

  MathNode postfix() {
    MathNode p = primary();
    while (punct("!")) {
      take();
      p = unary(Kind::Factorial, std::move(p));
    }
    return p;
  }

  // The argument of ^, _, \frac, \sqrt: a {group} or a single token, as TeX reads "x^23" as x^2 * 3
  // and "\frac12" as 1/2.
  MathNode script_arg() {
    Depth guard(depth_);
    if (punct("{")) return group();
    if (punct("-")) {   // "x^-1", as models write it
      take();
      return unary(Kind::Neg, script_arg());
    }
    if (peek().type == Tok::Num) {
      Token& t = t_[i_];
      if (t.text.size() > 1 && t.text.find('.') == std::string::npos) {
        MathNode digit = number(Rational(t.text[0] - '0'));
        t.text.erase(0, 1);
        return digit;
      }
    }
    if (peek().type == Tok::Word) throw NotMath{};
    return primary();
  }

  MathNode group() {
    expect(Tok::Punct, "{");
    auto items = items_until([](const Token& t) { return t.type == Tok::Punct && t.text == "}"; });
    take();
    if (items.empty()) throw NotMath{};
    return items.size() == 1 ? std::move(items[0]) : node(Kind::List, std::move(items));
  }

  // Raw digits of a {group} or one token: the base of "52_8" / "52_{8}", the period of \overline{3}.
  std::string raw_digits() {
    if (peek().type == Tok::Num) {
      Token& t = t_[i_];
      if (t.text.find('.') != std::string::npos) throw NotMath{};
      std::string d(1, t.text[0]);
      t.text.erase(0, 1);
      if (t.text.empty()) take();
      return d;
    }
    expect(Tok::Punct, "{");
    if (peek().type != Tok::Num) throw NotMath{};
    std::string d = take().text;
    expect(Tok::Punct, "}");
    if (d.find('.') != std::string::npos) throw NotMath{};
    return d;
  }

  MathNode bracketed(char open) {
    auto items = items_until([](const Token& t) { return t.type == Tok::Punct && (t.text == ")" || t.text == "]"); });
    char close = take().text[0];
    if (items.size() == 1 && ((open == '(' && close == ')') || (open == '[' && close == ']')))
      return std::move(items[0]);   // grouping, not a tuple
    if (items.size() < 2) throw NotMath{};
    MathNode b = node(Kind::Bracketed, std::move(items));
    b.open = open;
    b.close = close;
    return b;
  }

  MathNode matrix(const std::string& env) {
    if (env != "pmatrix" && env != "bmatrix" && env != "matrix" && env != "array") throw NotMath{};
    if (env == "array" && punct("{")) {   // column spec such as {cc}
      while (!punct("}") && peek().type != Tok::End) take();
      take();
    }
    std::vector<std::vector<MathNode>> rows(1);
    const std::string end = "end:" + env;
    while (!cmd(end)) {
      if (peek().type == Tok::End) throw NotMath{};
      rows.back().push_back(relation());
      if (punct("&")) {
        take();
      } else if (cmd("\\\\")) {
        take();
        rows.emplace_back();
      } else if (!cmd(end)) {
        throw NotMath{};
      }
    }
    take();
    if (rows.back().empty()) rows.pop_back();   // a trailing "\\"
    if (rows.empty()) throw NotMath{};
    MathNode m;
    m.kind = Kind::Matrix;
    m.rows = static_cast<int>(rows.size());
    m.cols = static_cast<int>(rows[0].size());
    for (auto& r : rows) {
      if (static_cast<int>(r.size()) != m.cols) throw NotMath{};
      for (auto& cell : r) m.children.push_back(std::move(cell));
    }
    return m;
  }

  MathNode function(std::string name) {
    std::optional<MathNode> power_of;
    if (punct("^")) {
      take();
      MathNode e = script_arg();
      // \sin^{-1} x is arcsin x; \sin^2 x is (sin x)^2.
      if (e.kind == Kind::Neg && e.children[0].kind == Kind::Number && e.children[0].value == Rational(1) &&
          (name == "sin" || name == "cos" || name == "tan")) {
        name = "arc" + name;
      } else {
        power_of = std::move(e);
      }
    }
    MathNode f = leaf(Kind::Func, name);
    if (name == "log" && punct("_")) {
      take();
      f.children.push_back(script_arg());   // the base comes first: log_b(x) = (log b x)
    }
    if (punct("(")) {
      take();
      auto args = items_until([](const Token& t) { return t.type == Tok::Punct && t.text == ")"; });
      take();
      if (args.empty()) throw NotMath{};
      for (auto& a : args) f.children.push_back(std::move(a));
    } else {
      f.children.push_back(power());
    }
    return power_of ? binary(Kind::Pow, std::move(f), std::move(*power_of)) : f;
  }

  MathNode primary() {
    Depth guard(depth_);
    Token t = take();
    switch (t.type) {
      case Tok::Num: {
        if (cmd("overline")) {
          take();
          std::string period = raw_digits();
          return number(repeating_decimal(t.text, period));
        }
        if (t.text.back() == '.') throw NotMath{};
        auto v = Rational::from_decimal(t.text);
        if (!v) throw NotMath{};
        if (punct("_")) {   // a numeral in base b: an atom equal only to itself
          take();
          std::string base = raw_digits();
          return leaf(Kind::Symbol, t.text + "_" + base);
        }
        return number(*v);
      }
      case Tok::Letter: {
        std::string name = t.text;
        if (punct("_")) {
          take();
          name += '_';
          name += to_sexpr(script_arg());
          return leaf(Kind::Symbol, name);
        }
        if (name == "e" || name == "i") return leaf(Kind::Constant, name);
        return leaf(Kind::Symbol, name);
      }
      case Tok::Word:
        saw_word_ = true;
        return leaf(Kind::Text, t.text);
      case Tok::Punct:
        if (t.text == "(" || t.text == "[") return bracketed(t.text[0]);
        if (t.text == "{") {
          --i_;
          return group();
        }
        if (t.text == "|") {
          MathNode inner = sum();
          expect(Tok::Punct, "|");
          return abs_of(std::move(inner));
        }
        throw NotMath{};
      case Tok::Cmd:
        return command(t.text);
      default:
        throw NotMath{};
    }
  }

  MathNode abs_of(MathNode inner) {
    MathNode f = leaf(Kind::Func, "abs");
    f.children.push_back(std::move(inner));
    return f;
  }

  MathNode command(const std::string& name) {
    if (name == "pi") return leaf(Kind::Constant, "pi");
    if (name == "infty") return leaf(Kind::Constant, "inf");
    if (name == "emptyset") return node(Kind::Set, {});
    if (name == "frac") {
      MathNode num = script_arg();
      MathNode den = script_arg();
      return binary(Kind::Div, std::move(num), std::move(den));
    }
    if (name == "sqrt") {
      MathNode index = number(Rational(2));
      if (punct("[")) {
        take();
        index = sum();
        expect(Tok::Punct, "]");
      }
      MathNode radicand = script_arg();
      return binary(Kind::Pow, std::move(radicand), binary(Kind::Div, number(Rational(1)), std::move(index)));
    }
    if (name == "binom") {
      MathNode f = leaf(Kind::Func, "binom");
      f.children.push_back(script_arg());
      f.children.push_back(script_arg());
      return f;
    }
    if (name == "{") {
      auto items = items_until([](const Token& t) { return t.type == Tok::Cmd && t.text == "}"; });
      take();
      return node(Kind::Set, std::move(items));
    }
    if (name == "langle") {
      auto items = items_until([](const Token& t) { return t.type == Tok::Cmd && t.text == "rangle"; });
      take();
      MathNode b = node(Kind::Bracketed, std::move(items));
      b.open = '(';
      b.close = ')';
      return b;
    }
    if (name == "lfloor" || name == "lceil") {
      MathNode inner = sum();
      expect(Tok::Cmd, name == "lfloor" ? "rfloor" : "rceil");
      MathNode f = leaf(Kind::Func, name == "lfloor" ? "floor" : "ceil");
      f.children.push_back(std::move(inner));
      return f;
    }
    if (name.starts_with("begin:")) return matrix(name.substr(6));
    if (is_wrapper_command(name)) return group();
    if (name == "operatorname") {
      expect(Tok::Punct, "{");
      std::string fname;
      while (!punct("}")) {
        if (peek().type == Tok::End) throw NotMath{};
        fname += take().text;
      }
      take();
      return function(fname);
    }
    if (function_names().count(name)) return function(name);
    throw NotMath{};
  }

 public:
  bool saw_word() const { return saw_word_; }

  // The answer's letters and digits, lower-cased, without commands or punctuation:
  // "\text{Sunday}" and "sunday" have the same key.
  std::string text_key() const {
    std::string key;
    for (const Token& t : t_) {
      if (t.type != Tok::Word && t.type != Tok::Letter && t.type != Tok::Num) continue;
      for (char c : t.text) key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return key;
  }

 private:
  std::vector<Token> t_;
  size_t i_ = 0;
  int depth_ = 0;
  bool saw_word_ = false;
};

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Add: return "add";
    case Kind::Mul: return "mul";
    case Kind::Div: return "div";
    case Kind::Pow: return "pow";
    case Kind::Neg: return "neg";
    case Kind::PlusMinus: return "pm";
    case Kind::Factorial: return "fact";
    case Kind::Set: return "set";
    case Kind::List: return "list";
    case Kind::Union: return "union";
    default: return "?";
  }
}

}  // namespace

std::optional<MathNode> parse_latex_expr(std::string_view text) {
  try {
    Parser parser(Lexer(text).run());
    MathNode tree = parser.top();
    // Words ("odd", "Sunday", "neither") are not a product of letters: the whole answer is text.
    if (parser.saw_word()) return leaf(Kind::Text, parser.text_key());
    return tree;
  } catch (const NotMath&) {
    return std::nullopt;
  }
}

std::string to_sexpr(const MathNode& n) {
  auto children = [&](std::string_view head) {
    std::string out = "(";
    out.append(head);
    for (const auto& c : n.children) {
      out += ' ';
      out += to_sexpr(c);
    }
    out += ')';
    return out;
  };
  switch (n.kind) {
    case Kind::Number: return n.value.to_string();
    case Kind::Symbol:
    case Kind::Constant: return n.name;
    case Kind::Text: return "(text " + n.name + ")";
    case Kind::Func: return children(n.name);
    case Kind::PlusMinus: return children(n.sign > 0 ? "pm" : "mp");
    case Kind::Bracketed: return children(std::string(1, n.open) + n.close);
    case Kind::Matrix: return children("matrix " + std::to_string(n.rows) + "x" + std::to_string(n.cols));
    case Kind::Relation: {
      std::string s = "(rel " + to_sexpr(n.children[0]);
      for (size_t i = 0; i < n.ops.size(); ++i) s += " " + n.ops[i] + " " + to_sexpr(n.children[i + 1]);
      return s + ")";
    }
    default: return children(kind_name(n.kind));
  }
}

}  // namespace yardstick
