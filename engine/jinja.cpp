// The Jinja subset of jinja.h. Three parts: the lexer (jinja2's, with trim_blocks and
// lstrip_blocks), the parser (jinja2's grammar and precedence, building Expr and Node trees) and
// the renderer (Python's semantics for the values a chat template sees).
#include "engine/jinja.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <functional>
#include <optional>
#include <set>

#include <fmt/core.h>

#include "engine/error.h"

namespace yardstick::jinja {

const Value* Value::find(std::string_view key) const {
  if (!object) return nullptr;
  for (const auto& [k, v] : *object)
    if (k == key) return &v;
  return nullptr;
}

Value from_json(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null: return Value::none();
    case nlohmann::json::value_t::boolean: return Value::boolean(j.get<bool>());
    case nlohmann::json::value_t::number_integer: return Value::integer(j.get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: return Value::integer(static_cast<int64_t>(j.get<uint64_t>()));
    case nlohmann::json::value_t::number_float: return Value::number(j.get<double>());
    case nlohmann::json::value_t::string: return Value::string(j.get<std::string>());
    case nlohmann::json::value_t::array: {
      Array a;
      for (const auto& e : j) a.push_back(from_json(e));
      return Value::list(std::move(a));
    }
    case nlohmann::json::value_t::object: {
      Object o;
      for (const auto& [k, v] : j.items()) o.emplace_back(k, from_json(v));
      return Value::dict(std::move(o));
    }
    default: return Value::none();
  }
}

namespace {

using Kind = Value::Kind;

// ================================================================== text: UTF-8 and Python's str

// Byte offsets of each code point of s (a stray byte counts as one, so nothing is lost).
std::vector<size_t> code_point_starts(std::string_view s) {
  std::vector<size_t> starts;
  for (size_t i = 0; i < s.size();) {
    starts.push_back(i);
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (i + n > s.size()) n = 1;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) n = 1;
    i += n;
  }
  return starts;
}

std::vector<std::string_view> code_points(std::string_view s) {
  std::vector<size_t> starts = code_point_starts(s);
  std::vector<std::string_view> out;
  for (size_t k = 0; k < starts.size(); ++k) {
    size_t end = k + 1 < starts.size() ? starts[k + 1] : s.size();
    out.push_back(s.substr(starts[k], end - starts[k]));
  }
  return out;
}

char32_t decode(std::string_view cp) {
  unsigned char c = static_cast<unsigned char>(cp[0]);
  if (cp.size() == 1) return c;
  char32_t v = cp.size() == 2 ? (c & 0x1F) : cp.size() == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < cp.size(); ++k) v = (v << 6) | (static_cast<unsigned char>(cp[k]) & 0x3F);
  return v;
}

// Python's str.isspace().
bool is_space(std::string_view cp) {
  char32_t c = decode(cp);
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// str.strip / lstrip / rstrip: whitespace, or any code point of chars.
std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right) {
  auto cps = code_points(s);
  std::set<std::string_view> set;
  std::vector<std::string_view> char_cps;
  if (chars) {
    char_cps = code_points(*chars);
    set.insert(char_cps.begin(), char_cps.end());
  }
  auto strippable = [&](std::string_view cp) { return chars ? set.count(cp) > 0 : is_space(cp); };
  size_t a = 0, b = cps.size();
  if (left)
    while (a < b && strippable(cps[a])) ++a;
  if (right)
    while (b > a && strippable(cps[b - 1])) --b;
  std::string out;
  for (size_t k = a; k < b; ++k) out += cps[k];
  return out;
}

std::string ascii_upper(std::string s) {
  for (char& c : s)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return s;
}
std::string ascii_lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}
bool ascii_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Python's str.title(): a letter after a letter is lowered, any other letter raised.
std::string python_title(std::string s) {
  bool prev_cased = false;
  for (char& c : s) {
    if (ascii_alpha(c)) {
      c = prev_cased ? ascii_lower(std::string(1, c))[0] : ascii_upper(std::string(1, c))[0];
      prev_cased = true;
    } else {
      prev_cased = false;
    }
  }
  return s;
}

// Jinja's title filter: words start after '-', whitespace, '(', '{', '[' or '<'.
std::string jinja_title(std::string_view s) {
  std::string out;
  bool start = true;
  for (std::string_view cp : code_points(s)) {
    bool sep = cp == "-" || cp == "(" || cp == "{" || cp == "[" || cp == "<" || is_space(cp);
    std::string c(cp);
    out += sep ? c : start ? ascii_upper(c) : ascii_lower(c);
    start = sep;
  }
  return out;
}

std::string capitalize(std::string_view s) {
  std::string out = ascii_lower(std::string(s));
  if (!out.empty()) out[0] = ascii_upper(out.substr(0, 1))[0];
  return out;
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to, int64_t count) {
  std::string out;
  if (from.empty()) {   // Python puts `to` around every code point
    int64_t n = 0;
    for (std::string_view cp : code_points(s)) {
      if (count < 0 || n < count) out += to, ++n;
      out += cp;
    }
    if (count < 0 || n < count) out += to;
    return out;
  }
  size_t i = 0;
  int64_t n = 0;
  while (count < 0 || n < count) {
    size_t at = s.find(from, i);
    if (at == std::string_view::npos) break;
    out += s.substr(i, at - i);
    out += to;
    i = at + from.size();
    ++n;
  }
  out += s.substr(i);
  return out;
}

// str.split(sep, maxsplit); no sep: runs of whitespace, no empty parts.
std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit) {
  std::vector<std::string> out;
  if (sep) {
    size_t i = 0;
    while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
      size_t at = s.find(*sep, i);
      if (at == std::string_view::npos) break;
      out.emplace_back(s.substr(i, at - i));
      i = at + sep->size();
    }
    out.emplace_back(s.substr(i));
    return out;
  }
  auto cps = code_points(s);
  size_t k = 0;
  while (true) {
    while (k < cps.size() && is_space(cps[k])) ++k;
    if (k == cps.size()) break;
    std::string part;
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {   // the rest, as it is
      for (; k < cps.size(); ++k) part += cps[k];
      out.push_back(std::move(part));
      break;
    }
    while (k < cps.size() && !is_space(cps[k])) part += cps[k++];
    out.push_back(std::move(part));
  }
  return out;
}

// repr(float) of Python: the shortest digits that round-trip, fixed from 1e-4 up to 1e16.
std::string python_float(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x < 0 ? "-inf" : "inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
  std::string sci(buf, r.ptr);
  size_t e = sci.find('e');
  int exp = std::stoi(sci.substr(e + 1));
  std::string mant = sci.substr(0, e);
  bool neg = mant[0] == '-';
  if (neg) mant.erase(0, 1);
  std::string digits;
  for (char c : mant)
    if (c != '.') digits += c;
  std::string out;
  if (exp >= -4 && exp < 16) {
    if (exp < 0) {
      out = "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    } else if (static_cast<int>(digits.size()) <= exp + 1) {
      out = digits + std::string(static_cast<size_t>(exp + 1 - static_cast<int>(digits.size())), '0') + ".0";
    } else {
      out = digits.substr(0, static_cast<size_t>(exp + 1)) + "." + digits.substr(static_cast<size_t>(exp + 1));
    }
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    out += fmt::format("e{}{:02d}", exp < 0 ? '-' : '+', std::abs(exp));
  }
  return neg ? "-" + out : out;
}

std::string python_repr_string(std::string_view s) {
  char q = s.find('\'') != std::string_view::npos && s.find('"') == std::string_view::npos ? '"' : '\'';
  std::string out(1, q);
  for (char c : s) {
    if (c == q || c == '\\') out += '\\', out += c;
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else if ((static_cast<unsigned char>(c) < 0x20) || c == 0x7F) out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
    else out += c;
  }
  return out + q;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
        else out += c;
    }
  }
  return out + "\"";
}

// ================================================================== errors

class Located {
 public:
  Located(const std::string* origin, const std::string* source) : origin_(origin), source_(source) {}
  [[noreturn]] void fail(size_t pos, const std::string& what) const {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < pos && i < source_->size(); ++i) {
      if ((*source_)[i] == '\n') ++line, col = 1;
      else ++col;
    }
    throw InputError(fmt::format("{}: line {}, column {}: {}", *origin_, line, col, what));
  }
  const std::string& origin() const { return *origin_; }

 private:
  const std::string* origin_;
  const std::string* source_;
};

// ================================================================== lexer

enum class Tok { Data, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, End };

struct Token {
  Tok type;
  std::string text;   // Data, Name, String (unescaped), Op; Int/Float: the digits
  size_t pos;
};

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string rstrip_ws(std::string_view s) {
  return strip(s, std::nullopt, false, true);
}

// Python's "unicode-escape" of a string literal's body.
std::string unescape(std::string_view body, size_t pos, const Located& err) {
  std::string out;
  auto put_cp = [&](uint32_t c) {
    if (c < 0x80) out += static_cast<char>(c);
    else if (c < 0x800) out += static_cast<char>(0xC0 | (c >> 6)), out += static_cast<char>(0x80 | (c & 0x3F));
    else if (c < 0x10000)
      out += static_cast<char>(0xE0 | (c >> 12)), out += static_cast<char>(0x80 | ((c >> 6) & 0x3F)),
          out += static_cast<char>(0x80 | (c & 0x3F));
    else
      out += static_cast<char>(0xF0 | (c >> 18)), out += static_cast<char>(0x80 | ((c >> 12) & 0x3F)),
          out += static_cast<char>(0x80 | ((c >> 6) & 0x3F)), out += static_cast<char>(0x80 | (c & 0x3F));
  };
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c != '\\' || i + 1 == body.size()) {
      out += c;
      continue;
    }
    char e = body[++i];
    switch (e) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'v': out += '\v'; break;
      case '\n': break;
      case 'x': case 'u': case 'U': {
        size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        uint32_t v = 0;
        for (size_t k = 1; k <= n; ++k) {
          char h = i + k < body.size() ? body[i + k] : 'g';
          int d = std::isxdigit(static_cast<unsigned char>(h)) ? (std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (h | 0x20) - 'a' + 10) : -1;
          if (d < 0) err.fail(pos, "a malformed \\" + std::string(1, e) + " escape in a string");
          v = v * 16 + static_cast<uint32_t>(d);
        }
        put_cp(v);
        i += n;
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          uint32_t v = 0;
          size_t k = 0;
          for (; k < 3 && i + k < body.size() && body[i + k] >= '0' && body[i + k] <= '7'; ++k) v = v * 8 + (body[i + k] - '0');
          put_cp(v);
          i += k - 1;
        } else {
          out += '\\';
          out += e;
        }
    }
  }
  return out;
}

// jinja2's lexer with trim_blocks=True, lstrip_blocks=True.
std::vector<Token> lex(const std::string& src, const Located& err) {
  std::vector<Token> out;
  size_t pos = 0;
  bool line_starting = true;
  while (pos < src.size()) {
    // The next tag start.
    size_t at = pos;
    char kind = 0;
    while ((at = src.find('{', at)) != std::string::npos) {
      if (at + 1 < src.size() && (src[at + 1] == '{' || src[at + 1] == '%' || src[at + 1] == '#')) {
        kind = src[at + 1];
        break;
      }
      ++at;
    }
    if (!kind) {
      out.push_back({Tok::Data, src.substr(pos), pos});
      break;
    }
    std::string text = src.substr(pos, at - pos);
    size_t tag = at;
    at += 2;
    char sign = at < src.size() && (src[at] == '-' || src[at] == '+') ? src[at] : 0;
    if (sign) ++at;
    if (sign == '-') {
      text = rstrip_ws(text);
    } else if (sign != '+' && kind != '{') {
      size_t l_pos = text.rfind('\n');
      l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
      if (l_pos > 0 || line_starting) {
        bool only_ws = l_pos < text.size();
        for (size_t k = l_pos; k < text.size(); ++k)
          if (!(text[k] == ' ' || text[k] == '\t' || text[k] == '\r' || text[k] == '\f' || text[k] == '\v')) only_ws = false;
        if (only_ws) text.resize(l_pos);
      }
    }
    if (!text.empty()) out.push_back({Tok::Data, text, pos});
    if (kind == '#') {
      size_t end = src.find("#}", at);
      if (end == std::string::npos) err.fail(tag, "a comment '{#' is never closed");
      pos = end + 2;
      if (end > at && src[end - 1] == '-') {
        while (pos < src.size() && is_ws(src[pos])) ++pos;
      } else if (!(end > at && src[end - 1] == '+') && pos < src.size() && src[pos] == '\n') {
        ++pos;
      }
      line_starting = src[pos - 1] == '\n';
      continue;
    }
    const bool block = kind == '%';
    out.push_back({block ? Tok::BlockBegin : Tok::VarBegin, "", tag});
    if (block) {   // {% raw %} is not in the subset
      size_t k = at;
      while (k < src.size() && is_ws(src[k])) ++k;
      if (src.compare(k, 3, "raw") == 0 && (k + 3 == src.size() || !std::isalnum(static_cast<unsigned char>(src[k + 3]))))
        err.fail(tag, "unsupported tag '{% raw %}'");
    }
    // Expression tokens up to the closing tag; as in jinja2, a "}}" or "%}" inside brackets
    // closes a bracket, not the tag.
    bool closed = false;
    int depth = 0;
    while (pos = at, at < src.size()) {
      char c = src[at];
      if (is_ws(c)) {
        ++at;
        continue;
      }
      const char* close = block ? "%}" : "}}";
      auto closes = [&](size_t k) { return src.compare(k, 2, close) == 0; };
      if (depth == 0 && (c == '-' || (block && c == '+')) && closes(at + 1)) {
        at += 3;
        if (c == '-') while (at < src.size() && is_ws(src[at])) ++at;
        out.push_back({block ? Tok::BlockEnd : Tok::VarEnd, "", pos});
        closed = true;
        break;
      }
      if (depth == 0 && closes(at)) {
        at += 2;
        if (block && at < src.size() && src[at] == '\n') ++at;
        out.push_back({block ? Tok::BlockEnd : Tok::VarEnd, "", pos});
        closed = true;
        break;
      }
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t e = at;
        while (e < src.size() && (std::isalnum(static_cast<unsigned char>(src[e])) || src[e] == '_')) ++e;
        out.push_back({Tok::Name, src.substr(at, e - at), at});
        at = e;
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        size_t e = at;
        bool is_float = false;
        while (e < src.size() && (std::isdigit(static_cast<unsigned char>(src[e])) || src[e] == '_')) ++e;
        if (e + 1 < src.size() && src[e] == '.' && std::isdigit(static_cast<unsigned char>(src[e + 1]))) {
          is_float = true;
          ++e;
          while (e < src.size() && (std::isdigit(static_cast<unsigned char>(src[e])) || src[e] == '_')) ++e;
        }
        if (e < src.size() && (src[e] == 'e' || src[e] == 'E')) {
          size_t k = e + 1;
          if (k < src.size() && (src[k] == '+' || src[k] == '-')) ++k;
          if (k < src.size() && std::isdigit(static_cast<unsigned char>(src[k]))) {
            is_float = true;
            e = k;
            while (e < src.size() && std::isdigit(static_cast<unsigned char>(src[e]))) ++e;
          }
        }
        std::string digits;
        for (size_t k = at; k < e; ++k)
          if (src[k] != '_') digits += src[k];
        out.push_back({is_float ? Tok::Float : Tok::Int, digits, at});
        at = e;
      } else if (c == '\'' || c == '"') {
        size_t e = at + 1;
        while (e < src.size() && src[e] != c) e += src[e] == '\\' ? 2 : 1;
        if (e >= src.size()) err.fail(at, "a string literal is never closed");
        out.push_back({Tok::String, unescape(std::string_view(src).substr(at + 1, e - at - 1), at, err), at});
        at = e + 1;
      } else {
        static const char* ops[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "*", "/", "%", "~", "<", ">",
                                    "=", ".", ",", ":", "|", "(", ")", "[", "]", "{", "}"};
        const char* found = nullptr;
        for (const char* op : ops)
          if (src.compare(at, std::char_traits<char>::length(op), op) == 0) {
            found = op;
            break;
          }
        if (!found) err.fail(at, fmt::format("unexpected character '{}'", c));
        const std::string_view op = found;
        if (op == "(" || op == "[" || op == "{") ++depth;
        else if ((op == ")" || op == "]" || op == "}") && depth > 0) --depth;
        out.push_back({Tok::Op, found, at});
        at += op.size();
      }
    }
    if (!closed) err.fail(tag, block ? "a tag '{%' is never closed" : "an expression '{{' is never closed");
    pos = at;
    line_starting = src[pos - 1] == '\n';
  }
  out.push_back({Tok::End, "", src.size()});
  return out;
}

}  // namespace

// ================================================================== syntax trees

struct Expr {
  enum class K { Literal, Name, Attr, Item, Slice, Call, Filter, Test, Neg, Pos, Not, And, Or, Binary, Compare,
                 Cond, List, Tuple, Dict };
  K k;
  size_t pos = 0;
  Value literal;
  std::string name;                         // Name, Attr, Call of a method, Filter, Test, Binary's operator
  std::vector<std::unique_ptr<Expr>> args;  // operands; Call/Filter/Test: [callee or subject, args...]
  std::vector<std::pair<std::string, std::unique_ptr<Expr>>> kwargs;
  std::vector<std::string> ops;             // Compare: the operators between args
  bool negated = false;                     // Test: "is not"
};

struct Node {
  enum class K { Text, Print, If, For, Set, SetBlock, Break, Continue };
  K k;
  size_t pos = 0;
  std::string text;                                    // Text
  std::unique_ptr<Expr> expr;                          // Print, Set's value, For's iterable
  std::vector<std::pair<std::unique_ptr<Expr>, std::vector<std::unique_ptr<Node>>>> branches;   // If
  std::vector<std::unique_ptr<Node>> body, else_body;  // For, SetBlock
  std::vector<std::string> targets;                    // For, Set, SetBlock: names
  std::string attr;                                    // Set to a namespace: targets[0].attr
  std::unique_ptr<Expr> filter;                        // For ... if filter
};

namespace {

using ExprP = std::unique_ptr<Expr>;
using Body = std::vector<std::unique_ptr<Node>>;

const std::set<std::string> kFilters = {
    "abs",   "capitalize", "count", "d",        "default", "dictsort", "first",  "float",     "indent",
    "int",   "items",      "join",  "last",     "length",  "list",     "lower",  "map",       "max",
    "min",   "reject",     "rejectattr",        "replace", "reverse",  "safe",   "select",    "selectattr",
    "sort",  "string",     "sum",   "title",    "tojson",  "trim",     "unique", "upper",     "wordcount"};
const std::set<std::string> kTests = {
    "boolean", "callable", "defined", "divisibleby", "eq",     "equalto", "escaped", "even",   "false",
    "float",   "ge",       "gt",      "greaterthan", "in",     "integer", "iterable", "le",     "lessthan",
    "lower",   "lt",       "mapping", "ne",          "none",   "number",  "odd",     "sameas", "sequence",
    "string",  "true",     "undefined", "upper",     "==",     "!=",      "<",       "<=",     ">",       ">="};
const std::set<std::string> kMethods = {"strip",  "lstrip", "rstrip", "startswith", "endswith", "split", "rsplit",
                                        "upper",  "lower",  "title",  "capitalize", "replace",  "find",  "count",
                                        "join",   "get",    "items",  "keys",       "values",   "splitlines",
                                        "isdigit", "isspace", "isalpha"};

ExprP make(Expr::K k, size_t pos) {
  auto e = std::make_unique<Expr>();
  e->k = k;
  e->pos = pos;
  return e;
}

class Parser {
 public:
  Parser(std::vector<Token> toks, const Located& err) : t_(std::move(toks)), err_(err) {}

  Body parse_template() {
    std::string stop;
    Body body = parse_body({}, &stop);
    return body;
  }

 private:
  std::vector<Token> t_;
  size_t i_ = 0;
  const Located& err_;
  int loop_depth_ = 0;

  const Token& cur() const { return t_[i_]; }
  const Token& peek(size_t n = 1) const { return t_[std::min(i_ + n, t_.size() - 1)]; }
  bool is_op(const char* op) const { return cur().type == Tok::Op && cur().text == op; }
  bool is_name(const char* n) const { return cur().type == Tok::Name && cur().text == n; }
  [[noreturn]] void fail(const std::string& what) const { err_.fail(cur().pos, what); }
  std::string describe(const Token& t) const {
    switch (t.type) {
      case Tok::End: return "the end of the template";
      case Tok::BlockEnd: return "'%}'";
      case Tok::VarEnd: return "'}}'";
      case Tok::Data: return "text";
      default: return "'" + t.text + "'";
    }
  }
  void expect_op(const char* op) {
    if (!is_op(op)) fail(fmt::format("expected '{}', found {}", op, describe(cur())));
    ++i_;
  }
  std::string expect_name() {
    if (cur().type != Tok::Name) fail(fmt::format("expected a name, found {}", describe(cur())));
    return t_[i_++].text;
  }
  void expect_block_end() {
    if (cur().type != Tok::BlockEnd) fail(fmt::format("expected '%}}', found {}", describe(cur())));
    ++i_;
  }

  // Statements until one of the `stops` tags (left unconsumed after its "{%", its name in *stop).
  Body parse_body(const std::vector<std::string>& stops, std::string* stop) {
    Body body;
    while (true) {
      const Token& t = cur();
      if (t.type == Tok::End) {
        if (!stops.empty()) fail(fmt::format("the template ends before '{{% {} %}}'", stops.back()));
        return body;
      }
      if (t.type == Tok::Data) {
        auto n = std::make_unique<Node>();
        n->k = Node::K::Text;
        n->pos = t.pos;
        n->text = t.text;
        body.push_back(std::move(n));
        ++i_;
      } else if (t.type == Tok::VarBegin) {
        ++i_;
        auto n = std::make_unique<Node>();
        n->k = Node::K::Print;
        n->pos = t.pos;
        n->expr = parse_tuple(true);
        if (cur().type != Tok::VarEnd) fail(fmt::format("expected '}}}}', found {}", describe(cur())));
        ++i_;
        body.push_back(std::move(n));
      } else if (t.type == Tok::BlockBegin) {
        ++i_;
        if (cur().type != Tok::Name) fail(fmt::format("expected a tag name, found {}", describe(cur())));
        const std::string name = cur().text;
        if (std::find(stops.begin(), stops.end(), name) != stops.end()) {
          *stop = name;
          return body;
        }
        parse_statement(body);
      } else {
        fail(fmt::format("unexpected {}", describe(t)));
      }
    }
  }

  void parse_statement(Body& body) {
    const size_t pos = t_[i_ - 1].pos;
    const std::string name = expect_name();
    auto n = std::make_unique<Node>();
    n->pos = pos;
    std::string stop;
    if (name == "if") {
      n->k = Node::K::If;
      auto cond = parse_tuple(true);
      expect_block_end();
      while (true) {
        Body b = parse_body({"elif", "else", "endif"}, &stop);
        n->branches.emplace_back(std::move(cond), std::move(b));
        ++i_;   // the stop tag's name
        if (stop == "elif") {
          cond = parse_tuple(true);
          expect_block_end();
        } else if (stop == "else") {
          expect_block_end();
          n->else_body = parse_body({"endif"}, &stop);
          ++i_;
          expect_block_end();
          break;
        } else {
          expect_block_end();
          break;
        }
      }
    } else if (name == "for") {
      n->k = Node::K::For;
      n->targets = parse_targets();
      if (!is_name("in")) fail(fmt::format("expected 'in', found {}", describe(cur())));
      ++i_;
      n->expr = parse_tuple(false);
      if (is_name("if")) {
        ++i_;
        n->filter = parse_expression(true);
      }
      if (is_name("recursive")) fail("unsupported loop option 'recursive'");
      expect_block_end();
      ++loop_depth_;
      n->body = parse_body({"else", "endfor"}, &stop);
      --loop_depth_;
      ++i_;
      expect_block_end();
      if (stop == "else") {
        n->else_body = parse_body({"endfor"}, &stop);
        ++i_;
        expect_block_end();
      }
    } else if (name == "set") {
      std::string first = expect_name();
      if (is_op(".")) {
        ++i_;
        n->k = Node::K::Set;
        n->targets = {first};
        n->attr = expect_name();
        expect_op("=");
        n->expr = parse_tuple(true);
        expect_block_end();
      } else {
        n->targets = {first};
        while (is_op(",")) {
          ++i_;
          n->targets.push_back(expect_name());
        }
        if (is_op("=")) {
          ++i_;
          n->k = Node::K::Set;
          n->expr = parse_tuple(true);
          expect_block_end();
        } else {
          if (n->targets.size() != 1) fail("a block set takes one name");
          if (cur().type != Tok::BlockEnd) fail(fmt::format("unsupported: set with a filter ({})", describe(cur())));
          expect_block_end();
          n->k = Node::K::SetBlock;
          n->body = parse_body({"endset"}, &stop);
          ++i_;
          expect_block_end();
        }
      }
    } else if (name == "break" || name == "continue") {
      if (loop_depth_ == 0) err_.fail(pos, fmt::format("'{{% {} %}}' outside a loop", name));
      n->k = name == "break" ? Node::K::Break : Node::K::Continue;
      expect_block_end();
    } else if (name == "generation") {   // transformers' assistant-mask tag: renders its body
      expect_block_end();
      Body inner = parse_body({"endgeneration"}, &stop);
      ++i_;
      expect_block_end();
      for (auto& x : inner) body.push_back(std::move(x));
      return;
    } else {
      err_.fail(pos, fmt::format("unsupported tag '{{% {} %}}'", name));
    }
    body.push_back(std::move(n));
  }

  std::vector<std::string> parse_targets() {
    std::vector<std::string> names;
    bool paren = is_op("(");
    if (paren) ++i_;
    names.push_back(expect_name());
    while (is_op(",")) {
      ++i_;
      names.push_back(expect_name());
    }
    if (paren) expect_op(")");
    return names;
  }

  // expression (',' expression)* -> a tuple when there is a comma.
  ExprP parse_tuple(bool with_condexpr) {
    const size_t pos = cur().pos;
    ExprP first = parse_expression(with_condexpr);
    if (!is_op(",")) return first;
    auto tuple = make(Expr::K::Tuple, pos);
    tuple->args.push_back(std::move(first));
    while (is_op(",")) {
      ++i_;
      if (cur().type == Tok::BlockEnd || cur().type == Tok::VarEnd || is_op(")")) break;
      tuple->args.push_back(parse_expression(with_condexpr));
    }
    return tuple;
  }

  ExprP parse_expression(bool with_condexpr) { return with_condexpr ? parse_condexpr() : parse_or(); }

  ExprP parse_condexpr() {
    ExprP e = parse_or();
    while (is_name("if")) {
      auto c = make(Expr::K::Cond, cur().pos);
      ++i_;
      ExprP cond = parse_or();
      ExprP other;
      if (is_name("else")) {
        ++i_;
        other = parse_condexpr();
      }
      c->args.push_back(std::move(cond));
      c->args.push_back(std::move(e));
      c->args.push_back(std::move(other));   // null: undefined
      e = std::move(c);
    }
    return e;
  }

  // operand (keyword operand)*, left to right: `or` over `and` over `not`.
  ExprP parse_logical(const char* keyword, Expr::K k, ExprP (Parser::*operand)()) {
    ExprP e = (this->*operand)();
    while (is_name(keyword)) {
      auto o = make(k, cur().pos);
      ++i_;
      o->args.push_back(std::move(e));
      o->args.push_back((this->*operand)());
      e = std::move(o);
    }
    return e;
  }
  ExprP parse_or() { return parse_logical("or", Expr::K::Or, &Parser::parse_and); }
  ExprP parse_and() { return parse_logical("and", Expr::K::And, &Parser::parse_not); }

  ExprP parse_not() {
    if (is_name("not")) {
      auto n = make(Expr::K::Not, cur().pos);
      ++i_;
      n->args.push_back(parse_not());
      return n;
    }
    return parse_compare();
  }

  ExprP parse_compare() {
    const size_t pos = cur().pos;
    ExprP e = parse_math1();
    ExprP cmp;
    while (true) {
      std::string op;
      if (cur().type == Tok::Op &&
          (cur().text == "==" || cur().text == "!=" || cur().text == "<" || cur().text == ">" ||
           cur().text == "<=" || cur().text == ">=")) {
        op = cur().text;
        ++i_;
      } else if (is_name("in")) {
        op = "in";
        ++i_;
      } else if (is_name("not") && peek().type == Tok::Name && peek().text == "in") {
        op = "not in";
        i_ += 2;
      } else {
        break;
      }
      if (!cmp) {
        cmp = make(Expr::K::Compare, pos);
        cmp->args.push_back(std::move(e));
      }
      cmp->ops.push_back(op);
      cmp->args.push_back(parse_math1());
    }
    return cmp ? std::move(cmp) : std::move(e);
  }

  ExprP binary(std::string op, ExprP a, ExprP b, size_t pos) {
    auto e = make(Expr::K::Binary, pos);
    e->name = std::move(op);
    e->args.push_back(std::move(a));
    e->args.push_back(std::move(b));
    return e;
  }

  ExprP parse_math1() {
    ExprP e = parse_concat();
    while (is_op("+") || is_op("-")) {
      std::string op = cur().text;
      size_t pos = cur().pos;
      ++i_;
      e = binary(op, std::move(e), parse_concat(), pos);
    }
    return e;
  }

  ExprP parse_concat() {
    ExprP e = parse_math2();
    while (is_op("~")) {
      size_t pos = cur().pos;
      ++i_;
      e = binary("~", std::move(e), parse_math2(), pos);
    }
    return e;
  }

  ExprP parse_math2() {
    ExprP e = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      std::string op = cur().text;
      size_t pos = cur().pos;
      ++i_;
      e = binary(op, std::move(e), parse_pow(), pos);
    }
    return e;
  }

  ExprP parse_pow() {
    ExprP e = parse_unary(true);
    while (is_op("**")) {
      size_t pos = cur().pos;
      ++i_;
      e = binary("**", std::move(e), parse_unary(true), pos);
    }
    return e;
  }

  ExprP parse_unary(bool with_filter) {
    ExprP e;
    if (is_op("-") || is_op("+")) {
      e = make(is_op("-") ? Expr::K::Neg : Expr::K::Pos, cur().pos);
      ++i_;
      e->args.push_back(parse_unary(false));
    } else {
      e = parse_postfix(parse_primary());
    }
    if (with_filter) e = parse_filter_expr(std::move(e));
    return e;
  }

  ExprP parse_primary() {
    const Token& t = cur();
    if (t.type == Tok::Name) {
      ++i_;
      if (t.text == "true" || t.text == "True") return literal(Value::boolean(true), t.pos);
      if (t.text == "false" || t.text == "False") return literal(Value::boolean(false), t.pos);
      if (t.text == "none" || t.text == "None") return literal(Value::none(), t.pos);
      auto e = make(Expr::K::Name, t.pos);
      e->name = t.text;
      return e;
    }
    if (t.type == Tok::String) {
      std::string s;
      while (cur().type == Tok::String) s += t_[i_++].text;   // adjacent literals join
      return literal(Value::string(std::move(s)), t.pos);
    }
    if (t.type == Tok::Int) {
      ++i_;
      int64_t v = 0;
      auto r = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
      if (r.ec != std::errc()) err_.fail(t.pos, "an integer literal out of range");
      return literal(Value::integer(v), t.pos);
    }
    if (t.type == Tok::Float) {
      ++i_;
      return literal(Value::number(std::stod(t.text)), t.pos);
    }
    if (is_op("(")) {
      ++i_;
      if (is_op(")")) {
        ++i_;
        return make(Expr::K::Tuple, t.pos);
      }
      ExprP e = parse_tuple(true);
      expect_op(")");
      return e;
    }
    if (is_op("[")) {
      ++i_;
      auto e = make(Expr::K::List, t.pos);
      while (!is_op("]")) {
        if (!e->args.empty()) expect_op(",");
        if (is_op("]")) break;
        e->args.push_back(parse_expression(true));
      }
      ++i_;
      return e;
    }
    if (is_op("{")) {
      ++i_;
      auto e = make(Expr::K::Dict, t.pos);
      while (!is_op("}")) {
        if (!e->args.empty()) expect_op(",");
        if (is_op("}")) break;
        e->args.push_back(parse_expression(true));
        expect_op(":");
        e->args.push_back(parse_expression(true));
      }
      ++i_;
      return e;
    }
    fail(fmt::format("unexpected {}", describe(t)));
  }

  ExprP literal(Value v, size_t pos) {
    auto e = make(Expr::K::Literal, pos);
    e->literal = std::move(v);
    return e;
  }

  ExprP parse_postfix(ExprP e) {
    while (true) {
      if (is_op(".")) {
        size_t pos = cur().pos;
        ++i_;
        if (cur().type == Tok::Int) {   // foo.0 is foo[0]
          auto item = make(Expr::K::Item, pos);
          item->args.push_back(std::move(e));
          item->args.push_back(parse_primary());
          e = std::move(item);
          continue;
        }
        auto a = make(Expr::K::Attr, pos);
        a->name = expect_name();
        a->args.push_back(std::move(e));
        e = std::move(a);
      } else if (is_op("[")) {
        size_t pos = cur().pos;
        ++i_;
        e = parse_subscript(std::move(e), pos);
      } else if (is_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  ExprP parse_subscript(ExprP obj, size_t pos) {
    // [a], [a:b], [a:b:c], any part optional but the index
    ExprP parts[3];
    int n = 0;
    bool slice = false;
    while (true) {
      if (is_op("]")) break;
      if (is_op(":")) {
        slice = true;
        if (++n > 2) fail("a slice has at most three parts");
        ++i_;
        continue;
      }
      if (parts[n]) fail(fmt::format("expected ']', found {}", describe(cur())));
      parts[n] = parse_expression(true);
    }
    ++i_;
    if (!slice) {
      if (!parts[0]) err_.fail(pos, "an empty subscript");
      auto e = make(Expr::K::Item, pos);
      e->args.push_back(std::move(obj));
      e->args.push_back(std::move(parts[0]));
      return e;
    }
    auto e = make(Expr::K::Slice, pos);
    e->args.push_back(std::move(obj));
    for (auto& p : parts) e->args.push_back(std::move(p));
    return e;
  }

  void parse_call_args(Expr& call) {
    expect_op("(");
    bool first = true;
    while (!is_op(")")) {
      if (!first) {
        expect_op(",");
        if (is_op(")")) break;
      }
      first = false;
      if (is_op("*") || is_op("**")) fail("unsupported: *args or **kwargs in a call");
      if (cur().type == Tok::Name && peek().type == Tok::Op && peek().text == "=") {
        std::string key = cur().text;
        i_ += 2;
        call.kwargs.emplace_back(key, parse_expression(true));
      } else {
        if (!call.kwargs.empty()) fail("a positional argument after a keyword argument");
        call.args.push_back(parse_expression(true));
      }
    }
    ++i_;
  }

  ExprP parse_call(ExprP callee) {
    auto c = make(Expr::K::Call, cur().pos);
    if (callee->k == Expr::K::Attr && !kMethods.count(callee->name))
      err_.fail(callee->pos, fmt::format("unsupported method '.{}()'", callee->name));
    c->args.push_back(std::move(callee));
    parse_call_args(*c);
    return c;
  }

  ExprP parse_filter_expr(ExprP e) {
    while (true) {
      if (is_op("|")) {
        ++i_;
        const size_t pos = cur().pos;
        std::string name = expect_name();
        while (is_op(".")) {
          ++i_;
          name += "." + expect_name();
        }
        if (!kFilters.count(name)) err_.fail(pos, fmt::format("unsupported filter '{}'", name));
        auto f = make(Expr::K::Filter, pos);
        f->name = name;
        f->args.push_back(std::move(e));
        if (is_op("(")) parse_call_args(*f);
        e = std::move(f);
      } else if (is_name("is")) {
        ++i_;
        auto test = make(Expr::K::Test, cur().pos);
        if (is_name("not")) {
          test->negated = true;
          ++i_;
        }
        const size_t pos = cur().pos;
        std::string name;
        if (cur().type == Tok::Name) {
          name = t_[i_++].text;
        } else if (cur().type == Tok::Op && kTests.count(cur().text)) {
          name = t_[i_++].text;
        } else {
          fail(fmt::format("expected a test name, found {}", describe(cur())));
        }
        if (name == "none" || name == "true" || name == "false") name = ascii_lower(name);
        if (!kTests.count(name)) err_.fail(pos, fmt::format("unsupported test '{}'", name));
        test->name = name;
        test->args.push_back(std::move(e));
        if (is_op("(")) {
          parse_call_args(*test);
        } else if ((cur().type == Tok::Name || cur().type == Tok::String || cur().type == Tok::Int ||
                    cur().type == Tok::Float || is_op("(") || is_op("[") || is_op("{")) &&
                   !is_name("else") && !is_name("or") && !is_name("and")) {
          if (is_name("is")) fail("tests cannot be chained with 'is'");
          test->args.push_back(parse_postfix(parse_primary()));
        }
        e = std::move(test);
      } else if (is_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }
};

// ================================================================== values

bool truthy(const Value& v) {
  switch (v.kind) {
    case Kind::Undefined: case Kind::None: return false;
    case Kind::Bool: return v.b;
    case Kind::Int: return v.i != 0;
    case Kind::Float: return v.f != 0;
    case Kind::String: return !v.s.empty();
    case Kind::Array: return !v.array->empty();
    case Kind::Object: return !v.object->empty();
    default: return true;
  }
}

bool is_number(const Value& v) { return v.kind == Kind::Int || v.kind == Kind::Float || v.kind == Kind::Bool; }
double as_double(const Value& v) { return v.kind == Kind::Float ? v.f : v.kind == Kind::Int ? static_cast<double>(v.i) : v.b; }
int64_t as_int(const Value& v) { return v.kind == Kind::Int ? v.i : v.b; }
bool is_integral(const Value& v) { return v.kind == Kind::Int || v.kind == Kind::Bool; }

std::string repr(const Value& v);

// Python's str() (and what {{ }} prints).
std::string to_str(const Value& v) {
  switch (v.kind) {
    case Kind::Undefined: return "";
    case Kind::None: return "None";
    case Kind::Bool: return v.b ? "True" : "False";
    case Kind::Int: return std::to_string(v.i);
    case Kind::Float: return python_float(v.f);
    case Kind::String: return v.s;
    case Kind::Array: {
      std::string out = v.tuple ? "(" : "[";
      for (size_t k = 0; k < v.array->size(); ++k) out += (k ? ", " : "") + repr((*v.array)[k]);
      if (v.tuple && v.array->size() == 1) out += ",";
      return out + (v.tuple ? ")" : "]");
    }
    case Kind::Object: {
      std::string out = "{";
      for (size_t k = 0; k < v.object->size(); ++k)
        out += (k ? ", " : "") + python_repr_string((*v.object)[k].first) + ": " + repr((*v.object)[k].second);
      return out + "}";
    }
    case Kind::Namespace: return "<Namespace>";
    case Kind::Function: return "<function " + v.s + ">";
  }
  return "";
}

std::string repr(const Value& v) { return v.kind == Kind::String ? python_repr_string(v.s) : to_str(v); }

const char* type_name(const Value& v) {
  switch (v.kind) {
    case Kind::Undefined: return "undefined";
    case Kind::None: return "none";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "string";
    case Kind::Array: return "list";
    case Kind::Object: return "dict";
    case Kind::Namespace: return "namespace";
    case Kind::Function: return "function";
  }
  return "?";
}

bool equal(const Value& a, const Value& b) {
  if (is_number(a) && is_number(b)) return as_double(a) == as_double(b) && (!is_integral(a) || !is_integral(b) || as_int(a) == as_int(b));
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Kind::Undefined: case Kind::None: return true;
    case Kind::String: return a.s == b.s;
    case Kind::Array:
      if (a.array->size() != b.array->size()) return false;
      for (size_t k = 0; k < a.array->size(); ++k)
        if (!equal((*a.array)[k], (*b.array)[k])) return false;
      return true;
    case Kind::Object: case Kind::Namespace:
      if (a.object->size() != b.object->size()) return false;
      for (const auto& [k, v] : *a.object) {
        const Value* w = b.find(k);
        if (!w || !equal(v, *w)) return false;
      }
      return true;
    default: return a.s == b.s;
  }
}

std::vector<Value> items_of(const Value& v);

class Renderer {
 public:
  Renderer(const Located& err, const std::map<std::string, Value>& globals) : err_(err) {
    scopes_.emplace_back(globals.begin(), globals.end());
    for (const char* f : {"namespace", "raise_exception", "range", "dict", "strftime_now"})
      if (!scopes_[0].count(f)) scopes_[0][f] = Value::function(f);
  }

  enum class Flow { Normal, Break, Continue };

  Flow render(const Body& body, std::string& out) {
    for (const auto& n : body) {
      Flow f = render(*n, out);
      if (f != Flow::Normal) return f;
    }
    return Flow::Normal;
  }

 private:
  const Located& err_;
  std::vector<std::map<std::string, Value>> scopes_;

  [[noreturn]] void fail(size_t pos, const std::string& what) const { err_.fail(pos, what); }

  Value lookup(const std::string& name) const {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      auto f = it->find(name);
      if (f != it->end()) return f->second;
    }
    Value u;
    u.s = "'" + name + "' is undefined";
    return u;
  }

  void assign(const std::vector<std::string>& names, const Value& v, size_t pos) {
    if (names.size() == 1) {
      scopes_.back()[names[0]] = v;
      return;
    }
    std::vector<Value> parts = items_of(v);
    if (v.kind != Kind::Array && v.kind != Kind::String)
      fail(pos, fmt::format("cannot unpack a {} into {} names", type_name(v), names.size()));
    if (parts.size() != names.size())
      fail(pos, fmt::format("cannot unpack {} values into {} names", parts.size(), names.size()));
    for (size_t k = 0; k < names.size(); ++k) scopes_.back()[names[k]] = parts[k];
  }

  Flow render(const Node& n, std::string& out) {
    switch (n.k) {
      case Node::K::Text: out += n.text; break;
      case Node::K::Print: out += to_str(eval(*n.expr)); break;
      case Node::K::If:
        for (const auto& [cond, body] : n.branches)
          if (truthy(eval(*cond))) return render(body, out);
        return render(n.else_body, out);
      case Node::K::For: return render_for(n, out);
      case Node::K::Set: {
        Value v = eval(*n.expr);
        if (n.attr.empty()) {
          assign(n.targets, v, n.pos);
        } else {
          Value ns = lookup(n.targets[0]);
          if (ns.kind != Kind::Namespace)
            fail(n.pos, fmt::format("cannot set '{}.{}': '{}' is a {}, not a namespace()", n.targets[0], n.attr,
                                    n.targets[0], type_name(ns)));
          bool found = false;
          for (auto& [k, old] : *ns.object)
            if (k == n.attr) old = v, found = true;
          if (!found) ns.object->emplace_back(n.attr, v);
        }
        break;
      }
      case Node::K::SetBlock: {
        std::string captured;
        render(n.body, captured);
        scopes_.back()[n.targets[0]] = Value::string(std::move(captured));
        break;
      }
      case Node::K::Break: return Flow::Break;
      case Node::K::Continue: return Flow::Continue;
    }
    return Flow::Normal;
  }

  std::vector<Value> iterate(const Value& v, size_t pos) {
    if (v.kind == Kind::Undefined) return {};
    if (v.kind != Kind::Array && v.kind != Kind::Object && v.kind != Kind::String)
      fail(pos, fmt::format("cannot loop over a {}", type_name(v)));
    return items_of(v);
  }

  Flow render_for(const Node& n, std::string& out) {
    std::vector<Value> items = iterate(eval(*n.expr), n.expr->pos);
    scopes_.emplace_back();
    if (n.filter) {
      std::vector<Value> kept;
      for (const Value& item : items) {
        assign(n.targets, item, n.pos);
        if (truthy(eval(*n.filter))) kept.push_back(item);
      }
      items = std::move(kept);
    }
    const int64_t len = static_cast<int64_t>(items.size());
    for (int64_t k = 0; k < len; ++k) {
      scopes_.back().clear();   // as in jinja2, what an iteration sets is gone in the next
      assign(n.targets, items[k], n.pos);
      Object loop = {{"index", Value::integer(k + 1)},
                     {"index0", Value::integer(k)},
                     {"revindex", Value::integer(len - k)},
                     {"revindex0", Value::integer(len - k - 1)},
                     {"first", Value::boolean(k == 0)},
                     {"last", Value::boolean(k == len - 1)},
                     {"length", Value::integer(len)}};
      if (k > 0) loop.emplace_back("previtem", items[k - 1]);
      if (k + 1 < len) loop.emplace_back("nextitem", items[k + 1]);
      // Only a recursive loop (outside the subset) is deeper than 1; nesting does not count.
      loop.emplace_back("depth", Value::integer(1));
      loop.emplace_back("depth0", Value::integer(0));
      scopes_.back()["loop"] = Value::dict(std::move(loop));
      if (render(n.body, out) == Flow::Break) break;
    }
    scopes_.pop_back();
    if (len == 0) render(n.else_body, out);
    return Flow::Normal;
  }

  // ---------------------------------------------------------------- expressions

  Value eval(const Expr& e) {
    switch (e.k) {
      case Expr::K::Literal: return e.literal;
      case Expr::K::Name: return lookup(e.name);
      case Expr::K::Attr: return get_attr(eval(*e.args[0]), e.name, e.pos);
      case Expr::K::Item: return get_item(eval(*e.args[0]), eval(*e.args[1]), e.pos);
      case Expr::K::Slice: return slice(e);
      case Expr::K::Call: return call(e);
      case Expr::K::Filter: return filter(e);
      case Expr::K::Test: {
        bool r = apply_test(e.name, eval(*e.args[0]), eval_args(e, 1), e.pos);
        return Value::boolean(e.negated ? !r : r);
      }
      case Expr::K::Neg: case Expr::K::Pos: {
        Value v = eval(*e.args[0]);
        if (!is_number(v)) fail(e.pos, fmt::format("unary {} of a {}", e.k == Expr::K::Neg ? '-' : '+', type_name(v)));
        if (e.k == Expr::K::Pos) return is_integral(v) ? Value::integer(as_int(v)) : v;
        return is_integral(v) ? Value::integer(-as_int(v)) : Value::number(-v.f);
      }
      case Expr::K::Not: return Value::boolean(!truthy(eval(*e.args[0])));
      case Expr::K::And: {
        Value a = eval(*e.args[0]);
        return truthy(a) ? eval(*e.args[1]) : a;
      }
      case Expr::K::Or: {
        Value a = eval(*e.args[0]);
        return truthy(a) ? a : eval(*e.args[1]);
      }
      case Expr::K::Binary: return binary(e.name, eval(*e.args[0]), eval(*e.args[1]), e.pos);
      case Expr::K::Compare: {
        Value left = eval(*e.args[0]);
        for (size_t k = 0; k < e.ops.size(); ++k) {
          Value right = eval(*e.args[k + 1]);
          if (!compare(e.ops[k], left, right, e.pos)) return Value::boolean(false);
          left = std::move(right);
        }
        return Value::boolean(true);
      }
      case Expr::K::Cond:
        if (truthy(eval(*e.args[0]))) return eval(*e.args[1]);
        return e.args[2] ? eval(*e.args[2]) : Value{};
      case Expr::K::List: case Expr::K::Tuple: {
        Array a;
        for (const auto& x : e.args) a.push_back(eval(*x));
        Value v = Value::list(std::move(a));
        v.tuple = e.k == Expr::K::Tuple;
        return v;
      }
      case Expr::K::Dict: {
        Object o;
        for (size_t k = 0; k < e.args.size(); k += 2) {
          Value key = eval(*e.args[k]);
          if (key.kind != Kind::String) fail(e.args[k]->pos, fmt::format("unsupported: a dict key that is a {}", type_name(key)));
          Value v = eval(*e.args[k + 1]);
          bool found = false;
          for (auto& [kk, vv] : o)
            if (kk == key.s) vv = v, found = true;
          if (!found) o.emplace_back(key.s, std::move(v));
        }
        return Value::dict(std::move(o));
      }
    }
    return {};
  }

  [[noreturn]] void undefined_error(const Value& u, size_t pos, const std::string& doing) const {
    fail(pos, fmt::format("{} ({})", doing, u.s.empty() ? "an undefined value" : u.s));
  }

  Value get_attr(const Value& obj, const std::string& name, size_t pos) {
    if (obj.kind == Kind::Undefined) undefined_error(obj, pos, fmt::format("attribute '{}' of an undefined value", name));
    if (obj.kind == Kind::Object || obj.kind == Kind::Namespace) {
      if (const Value* v = obj.find(name)) return *v;
    }
    Value u;
    u.s = fmt::format("'{}' has no attribute '{}'", type_name(obj), name);
    return u;
  }

  Value get_item(const Value& obj, const Value& key, size_t pos) {
    if (obj.kind == Kind::Undefined) undefined_error(obj, pos, "subscript of an undefined value");
    Value u;
    u.s = fmt::format("'{}' has no item {}", type_name(obj), repr(key));
    if ((obj.kind == Kind::Array || obj.kind == Kind::String) && is_integral(key)) {
      std::vector<Value> items = obj.kind == Kind::Array ? *obj.array : items_of(obj);
      int64_t k = as_int(key), n = static_cast<int64_t>(items.size());
      if (k < 0) k += n;
      if (k < 0 || k >= n) return u;
      return items[static_cast<size_t>(k)];
    }
    if ((obj.kind == Kind::Object || obj.kind == Kind::Namespace) && key.kind == Kind::String) {
      if (const Value* v = obj.find(key.s)) return *v;
    }
    return u;
  }

  Value slice(const Expr& e) {
    Value obj = eval(*e.args[0]);
    if (obj.kind != Kind::Array && obj.kind != Kind::String) fail(e.pos, fmt::format("cannot slice a {}", type_name(obj)));
    std::optional<int64_t> part[3];
    for (int k = 0; k < 3; ++k) {
      if (!e.args[k + 1]) continue;
      Value v = eval(*e.args[k + 1]);
      if (v.kind == Kind::None) continue;
      if (!is_integral(v)) fail(e.args[k + 1]->pos, fmt::format("a slice bound that is a {}", type_name(v)));
      part[k] = as_int(v);
    }
    std::vector<Value> items = items_of(obj);
    const int64_t n = static_cast<int64_t>(items.size());
    const int64_t step = part[2].value_or(1);
    if (step == 0) fail(e.pos, "a slice step of zero");
    auto adjust = [&](std::optional<int64_t> v, int64_t dflt) {
      if (!v) return dflt;
      int64_t x = *v;
      if (x < 0) x += n;
      if (step > 0) return std::clamp<int64_t>(x, 0, n);
      return std::clamp<int64_t>(x, -1, n - 1);
    };
    int64_t start = adjust(part[0], step > 0 ? 0 : n - 1), stop = adjust(part[1], step > 0 ? n : -1);
    std::vector<Value> picked;
    for (int64_t k = start; step > 0 ? k < stop : k > stop; k += step) picked.push_back(items[static_cast<size_t>(k)]);
    if (obj.kind == Kind::Array) return Value::list(std::move(picked));
    std::string s;
    for (const auto& c : picked) s += c.s;
    return Value::string(std::move(s));
  }

  Value binary(const std::string& op, const Value& a, const Value& b, size_t pos) {
    if (op == "~") return Value::string(to_str(a) + to_str(b));
    auto bad = [&]() -> Value {
      fail(pos, fmt::format("unsupported operand types for {}: {} and {}", op, type_name(a), type_name(b)));
    };
    if (a.kind == Kind::Undefined) undefined_error(a, pos, fmt::format("'{}' with an undefined value", op));
    if (b.kind == Kind::Undefined) undefined_error(b, pos, fmt::format("'{}' with an undefined value", op));
    if (is_number(a) && is_number(b)) {
      const bool ints = is_integral(a) && is_integral(b);
      const int64_t x = as_int(a), y = as_int(b);
      const double p = as_double(a), q = as_double(b);
      if (op == "+") return ints ? Value::integer(x + y) : Value::number(p + q);
      if (op == "-") return ints ? Value::integer(x - y) : Value::number(p - q);
      if (op == "*") return ints ? Value::integer(x * y) : Value::number(p * q);
      if (op == "/") {
        if (q == 0) fail(pos, "division by zero");
        return Value::number(p / q);
      }
      if (op == "//" || op == "%") {
        if (q == 0) fail(pos, "division by zero");
        if (ints) {
          int64_t d = x / y, m = x % y;
          if (m != 0 && ((m < 0) != (y < 0))) --d, m += y;
          return Value::integer(op == "//" ? d : m);
        }
        double d = std::floor(p / q);
        return Value::number(op == "//" ? d : p - d * q);
      }
      if (op == "**") {
        if (ints && y >= 0) {
          int64_t r = 1;
          for (int64_t k = 0; k < y; ++k) r *= x;
          return Value::integer(r);
        }
        return Value::number(std::pow(p, q));
      }
      return bad();
    }
    if (op == "+" && a.kind == Kind::String && b.kind == Kind::String) return Value::string(a.s + b.s);
    if (op == "+" && a.kind == Kind::Array && b.kind == Kind::Array) {
      Array r = *a.array;
      r.insert(r.end(), b.array->begin(), b.array->end());
      return Value::list(std::move(r));
    }
    if (op == "*" && (a.kind == Kind::String || a.kind == Kind::Array) && is_integral(b)) {
      Value r = a.kind == Kind::String ? Value::string("") : Value::list({});
      for (int64_t k = 0; k < as_int(b); ++k) {
        if (a.kind == Kind::String) r.s += a.s;
        else r.array->insert(r.array->end(), a.array->begin(), a.array->end());
      }
      return r;
    }
    if (op == "%" && a.kind == Kind::String) fail(pos, "unsupported: '%' string formatting");
    return bad();
  }

  bool contains(const Value& container, const Value& item, size_t pos) {
    switch (container.kind) {
      case Kind::Undefined: return false;
      case Kind::String:
        if (item.kind != Kind::String) fail(pos, fmt::format("'in <string>' needs a string, not a {}", type_name(item)));
        return container.s.find(item.s) != std::string::npos;
      case Kind::Array:
        return std::any_of(container.array->begin(), container.array->end(), [&](const Value& v) { return equal(v, item); });
      case Kind::Object: case Kind::Namespace: return item.kind == Kind::String && container.find(item.s);
      default: fail(pos, fmt::format("'in' of a {}", type_name(container)));
    }
  }

  // a < b, strictly; throws where Python would.
  bool less(const Value& a, const Value& b, size_t pos) {
    if (is_number(a) && is_number(b))
      return is_integral(a) && is_integral(b) ? as_int(a) < as_int(b) : as_double(a) < as_double(b);
    if (a.kind == Kind::String && b.kind == Kind::String) return a.s < b.s;
    if (a.kind == Kind::Array && b.kind == Kind::Array) {
      for (size_t k = 0; k < a.array->size() && k < b.array->size(); ++k) {
        if (less((*a.array)[k], (*b.array)[k], pos)) return true;
        if (less((*b.array)[k], (*a.array)[k], pos)) return false;
      }
      return a.array->size() < b.array->size();
    }
    fail(pos, fmt::format("cannot order a {} and a {}", type_name(a), type_name(b)));
  }

  bool compare(const std::string& op, const Value& a, const Value& b, size_t pos) {
    if (op == "==") return equal(a, b);
    if (op == "!=") return !equal(a, b);
    if (op == "in") return contains(b, a, pos);
    if (op == "not in") return !contains(b, a, pos);
    if (op == "<") return less(a, b, pos);
    if (op == ">") return less(b, a, pos);
    if (op == "<=") return !less(b, a, pos);
    return !less(a, b, pos);   // >=
  }

  // ---------------------------------------------------------------- calls

  struct Args {
    std::vector<Value> pos;
    std::vector<std::pair<std::string, Value>> kw;
    size_t at = 0;
    // Positional k, else keyword `name`, else nullopt.
    std::optional<Value> get(size_t k, const char* name) const {
      if (k < pos.size()) return pos[k];
      for (const auto& [n, v] : kw)
        if (n == name) return v;
      return std::nullopt;
    }
  };

  Args eval_args(const Expr& e, size_t first) {
    Args a;
    a.at = e.pos;
    for (size_t k = first; k < e.args.size(); ++k) a.pos.push_back(eval(*e.args[k]));
    for (const auto& [n, x] : e.kwargs) a.kw.emplace_back(n, eval(*x));
    return a;
  }

  std::string want_string(const std::optional<Value>& v, const char* what, size_t pos) {
    if (!v || v->kind != Kind::String) fail(pos, fmt::format("{} needs a string argument", what));
    return v->s;
  }
  std::optional<std::string> opt_string(const std::optional<Value>& v, const char* what, size_t pos) {
    if (!v || v->kind == Kind::None) return std::nullopt;
    return want_string(v, what, pos);
  }
  int64_t opt_int(const std::optional<Value>& v, int64_t dflt, const char* what, size_t pos) {
    if (!v || v->kind == Kind::None) return dflt;
    if (!is_integral(*v)) fail(pos, fmt::format("{} needs an integer argument", what));
    return as_int(*v);
  }

  Value call(const Expr& e) {
    const Expr& callee = *e.args[0];
    if (callee.k == Expr::K::Attr) {
      Value obj = eval(*callee.args[0]);
      return method(obj, callee.name, eval_args(e, 1), callee.pos);
    }
    Value f = eval(callee);
    Args a = eval_args(e, 1);
    if (f.kind == Kind::Undefined) undefined_error(f, e.pos, "a call of an undefined function");
    if (f.kind != Kind::Function) fail(e.pos, fmt::format("a {} is not callable", type_name(f)));
    if (f.s == "raise_exception")
      throw InputError(fmt::format("{}: the template raised an exception: {}", err_.origin(), a.pos.empty() ? "" : to_str(a.pos[0])));
    if (f.s == "namespace" || f.s == "dict") {
      Value ns = Value::dict(Object(a.kw.begin(), a.kw.end()));
      if (!a.pos.empty()) {
        if (a.pos[0].kind != Kind::Object) fail(e.pos, fmt::format("{}() takes a dict, not a {}", f.s, type_name(a.pos[0])));
        Object o = *a.pos[0].object;
        for (auto& kv : *ns.object) o.push_back(kv);
        ns = Value::dict(std::move(o));
      }
      if (f.s == "namespace") ns.kind = Kind::Namespace;
      return ns;
    }
    if (f.s == "strftime_now") {   // transformers': datetime.now().strftime(format), local time
      if (a.pos.size() != 1 || a.pos[0].kind != Kind::String) fail(e.pos, "strftime_now() takes one format string");
      const std::time_t now = std::time(nullptr);
      std::tm local{};
      localtime_r(&now, &local);
      char buf[256];
      const size_t n = std::strftime(buf, sizeof buf, a.pos[0].s.c_str(), &local);
      if (n == 0 && !a.pos[0].s.empty()) fail(e.pos, "strftime_now(): the format gives nothing or too much");
      return Value::string(std::string(buf, n));
    }
    if (f.s == "range") {
      int64_t start = 0, stop = 0, step = 1;
      for (const auto& v : a.pos)
        if (!is_integral(v)) fail(e.pos, "range() needs integers");
      if (a.pos.size() == 1) stop = as_int(a.pos[0]);
      else if (a.pos.size() >= 2) start = as_int(a.pos[0]), stop = as_int(a.pos[1]);
      if (a.pos.size() == 3) step = as_int(a.pos[2]);
      if (step == 0 || a.pos.empty() || a.pos.size() > 3) fail(e.pos, "range() takes 1 to 3 integers, step not 0");
      Array r;
      for (int64_t k = start; step > 0 ? k < stop : k > stop; k += step) r.push_back(Value::integer(k));
      return Value::list(std::move(r));
    }
    fail(e.pos, fmt::format("unsupported function '{}'", f.s));
  }

  Value method(const Value& obj, const std::string& name, const Args& a, size_t pos) {
    if (obj.kind == Kind::Undefined) undefined_error(obj, pos, fmt::format("'.{}()' of an undefined value", name));
    if (obj.kind == Kind::String) {
      const std::string& s = obj.s;
      if (name == "strip" || name == "lstrip" || name == "rstrip")
        return Value::string(strip(s, opt_string(a.get(0, "chars"), name.c_str(), pos), name != "rstrip", name != "lstrip"));
      if (name == "startswith" || name == "endswith") {
        std::optional<Value> p = a.get(0, "prefix");
        std::vector<Value> options = p && p->kind == Kind::Array ? *p->array : std::vector<Value>{p.value_or(Value{})};
        for (const auto& o : options) {
          std::string x = want_string(o, name.c_str(), pos);
          bool hit = name == "startswith" ? s.compare(0, x.size(), x) == 0
                                          : s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
          if (hit) return Value::boolean(true);
        }
        return Value::boolean(false);
      }
      if (name == "split" || name == "rsplit") {
        std::optional<std::string> sep = opt_string(a.get(0, "sep"), "split", pos);
        if (sep && sep->empty()) fail(pos, "split() with an empty separator");
        int64_t max = opt_int(a.get(1, "maxsplit"), -1, "split", pos);
        if (name == "rsplit" && max >= 0) fail(pos, "unsupported: rsplit() with maxsplit");
        Array parts;
        for (auto& p : split(s, sep, max)) parts.push_back(Value::string(std::move(p)));
        return Value::list(std::move(parts));
      }
      if (name == "splitlines") {
        Array parts;
        for (auto& p : split(s, std::string("\n"), -1)) parts.push_back(Value::string(std::move(p)));
        if (!parts.empty() && parts.back().s.empty()) parts.pop_back();
        return Value::list(std::move(parts));
      }
      if (name == "upper") return Value::string(ascii_upper(s));
      if (name == "lower") return Value::string(ascii_lower(s));
      if (name == "title") return Value::string(python_title(s));
      if (name == "capitalize") return Value::string(capitalize(s));
      if (name == "replace")
        return Value::string(replace_all(s, want_string(a.get(0, "old"), "replace", pos), want_string(a.get(1, "new"), "replace", pos),
                                         opt_int(a.get(2, "count"), -1, "replace", pos)));
      if (name == "find") {
        size_t at = s.find(want_string(a.get(0, "sub"), "find", pos));
        if (at == std::string::npos) return Value::integer(-1);
        return Value::integer(static_cast<int64_t>(code_point_starts(s.substr(0, at)).size()));
      }
      if (name == "count") {
        std::string sub = want_string(a.get(0, "sub"), "count", pos);
        if (sub.empty()) return Value::integer(static_cast<int64_t>(code_points(s).size()) + 1);
        int64_t n = 0;
        for (size_t at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size())) ++n;
        return Value::integer(n);
      }
      if (name == "join") {
        std::optional<Value> it = a.get(0, "iterable");
        if (!it) fail(pos, "join() needs a list");
        std::string r;
        bool first = true;
        for (const auto& x : iterate(*it, pos)) {
          if (x.kind != Kind::String) fail(pos, fmt::format("join() of a {}", type_name(x)));
          r += (first ? "" : s) + x.s;
          first = false;
        }
        return Value::string(std::move(r));
      }
      if (name == "isdigit" || name == "isspace" || name == "isalpha") {
        auto cps = code_points(s);
        if (cps.empty()) return Value::boolean(false);
        for (auto cp : cps) {
          bool ok = name == "isspace" ? is_space(cp)
                    : name == "isdigit" ? (cp.size() == 1 && std::isdigit(static_cast<unsigned char>(cp[0])))
                                        : (cp.size() == 1 && ascii_alpha(cp[0]));
          if (!ok) return Value::boolean(false);
        }
        return Value::boolean(true);
      }
    }
    if (obj.kind == Kind::Object || obj.kind == Kind::Namespace) {
      if (name == "get") {
        std::optional<Value> key = a.get(0, "key");
        if (!key) fail(pos, "get() needs a key");
        if (key->kind == Kind::String)
          if (const Value* v = obj.find(key->s)) return *v;
        return a.get(1, "default").value_or(Value::none());
      }
      if (name == "items" || name == "keys" || name == "values") {
        Array r;
        for (const auto& [k, v] : *obj.object) {
          if (name == "items") r.push_back(Value::pair(Value::string(k), v));
          else r.push_back(name == "keys" ? Value::string(k) : v);
        }
        return Value::list(std::move(r));
      }
    }
    fail(pos, fmt::format("unsupported method '.{}()' of a {}", name, type_name(obj)));
  }

  // ---------------------------------------------------------------- tests and filters

  bool apply_test(const std::string& name, const Value& v, const Args& a, size_t pos) {
    auto arg = [&]() {
      std::optional<Value> x = a.get(0, "other");
      if (!x) fail(pos, fmt::format("test '{}' needs an argument", name));
      return *x;
    };
    if (name == "defined") return !v.is_undefined();
    if (name == "undefined") return v.is_undefined();
    if (name == "none") return v.kind == Kind::None;
    if (name == "boolean") return v.kind == Kind::Bool;
    if (name == "true") return v.kind == Kind::Bool && v.b;
    if (name == "false") return v.kind == Kind::Bool && !v.b;
    if (name == "integer") return v.kind == Kind::Int;
    if (name == "float") return v.kind == Kind::Float;
    if (name == "number") return is_number(v);
    if (name == "string") return v.kind == Kind::String;
    if (name == "mapping") return v.kind == Kind::Object || v.kind == Kind::Namespace;
    if (name == "iterable") return v.kind == Kind::Array || v.kind == Kind::Object || v.kind == Kind::String || v.is_undefined();
    if (name == "sequence") return v.kind == Kind::Array || v.kind == Kind::Object || v.kind == Kind::String;
    if (name == "callable") return v.kind == Kind::Function;
    if (name == "escaped") return false;
    if (name == "lower") return v.kind == Kind::String && ascii_lower(v.s) == v.s;
    if (name == "upper") return v.kind == Kind::String && ascii_upper(v.s) == v.s;
    if (name == "even" || name == "odd" || name == "divisibleby") {
      if (!is_integral(v)) fail(pos, fmt::format("test '{}' of a {}", name, type_name(v)));
      int64_t d = name == "divisibleby" ? opt_int(arg(), 1, "divisibleby", pos) : 2;
      if (d == 0) fail(pos, "divisibleby 0");
      bool div = as_int(v) % d == 0;
      return name == "odd" ? !div : div;
    }
    if (name == "eq" || name == "equalto" || name == "==" || name == "sameas") return equal(v, arg());
    if (name == "ne" || name == "!=") return !equal(v, arg());
    if (name == "lt" || name == "lessthan" || name == "<") return compare("<", v, arg(), pos);
    if (name == "le" || name == "<=") return compare("<=", v, arg(), pos);
    if (name == "gt" || name == "greaterthan" || name == ">") return compare(">", v, arg(), pos);
    if (name == "ge" || name == ">=") return compare(">=", v, arg(), pos);
    if (name == "in") return contains(arg(), v, pos);
    fail(pos, fmt::format("unsupported test '{}'", name));
  }

  Value attribute_of(const Value& item, const std::string& path, size_t pos) {
    Value v = item;
    for (const auto& part : split(path, std::string("."), -1)) {
      bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
      v = digits && v.kind == Kind::Array ? get_item(v, Value::integer(std::stoll(part)), pos) : get_attr(v, part, pos);
      if (v.is_undefined()) return v;
    }
    return v;
  }

  Value filter(const Expr& e) {
    Value v = eval(*e.args[0]);
    Args a = eval_args(e, 1);
    return apply_filter(e.name, v, a, e.pos);
  }

  std::string json(const Value& v, int indent, int depth, const std::string& item_sep, const std::string& key_sep,
                   bool sort_keys, size_t pos) {
    std::string nl = indent >= 0 ? "\n" + std::string(static_cast<size_t>(indent * (depth + 1)), ' ') : "";
    std::string close = indent >= 0 ? "\n" + std::string(static_cast<size_t>(indent * depth), ' ') : "";
    switch (v.kind) {
      case Kind::None: return "null";
      case Kind::Bool: return v.b ? "true" : "false";
      case Kind::Int: return std::to_string(v.i);
      case Kind::Float:
        if (std::isnan(v.f)) return "NaN";
        if (std::isinf(v.f)) return v.f < 0 ? "-Infinity" : "Infinity";
        return python_float(v.f);
      case Kind::String: return json_string(v.s);
      case Kind::Array: {
        if (v.array->empty()) return "[]";
        std::string out = "[";
        for (size_t k = 0; k < v.array->size(); ++k)
          out += (k ? item_sep : "") + nl + json((*v.array)[k], indent, depth + 1, item_sep, key_sep, sort_keys, pos);
        return out + close + "]";
      }
      case Kind::Object: case Kind::Namespace: {
        if (v.object->empty()) return "{}";
        Object o = *v.object;
        if (sort_keys) std::stable_sort(o.begin(), o.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
        std::string out = "{";
        for (size_t k = 0; k < o.size(); ++k)
          out += (k ? item_sep : "") + nl + json_string(o[k].first) + key_sep +
                 json(o[k].second, indent, depth + 1, item_sep, key_sep, sort_keys, pos);
        return out + close + "}";
      }
      default: fail(pos, fmt::format("tojson of a {} value", type_name(v)));
    }
  }

  Value apply_filter(const std::string& name, const Value& v, const Args& a, size_t pos) {
    auto need = [&](bool ok, const char* what) {
      if (!ok) fail(pos, fmt::format("filter '{}' of a {}{}", name, type_name(v), what));
    };
    if (name == "safe") return v;
    if (name == "default" || name == "d") {
      bool boolean = truthy(a.get(1, "boolean").value_or(Value::boolean(false)));
      if (v.is_undefined() || (boolean && !truthy(v))) return a.get(0, "default_value").value_or(Value::string(""));
      return v;
    }
    if (name == "string") return Value::string(to_str(v));
    if (name == "length" || name == "count") {
      if (v.is_undefined()) return Value::integer(0);
      need(v.kind == Kind::String || v.kind == Kind::Array || v.kind == Kind::Object || v.kind == Kind::Namespace, "");
      return Value::integer(static_cast<int64_t>(v.kind == Kind::String ? code_points(v.s).size()
                                                 : v.kind == Kind::Array ? v.array->size() : v.object->size()));
    }
    if (name == "tojson") {
      // transformers' tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
      std::optional<Value> ind = a.get(1, "indent");
      int indent = ind && ind->kind != Kind::None ? static_cast<int>(opt_int(ind, 0, "tojson", pos)) : -1;
      std::string item_sep = indent >= 0 ? "," : ", ", key_sep = ": ";
      if (std::optional<Value> seps = a.get(2, "separators"); seps && seps->kind == Kind::Array && seps->array->size() == 2)
        item_sep = want_string((*seps->array)[0], "tojson separators", pos), key_sep = want_string((*seps->array)[1], "tojson separators", pos);
      bool sort_keys = truthy(a.get(3, "sort_keys").value_or(Value::boolean(false)));
      if (a.get(0, "ensure_ascii") && truthy(*a.get(0, "ensure_ascii"))) fail(pos, "unsupported: tojson(ensure_ascii=true)");
      return Value::string(json(v, indent, 0, item_sep, key_sep, sort_keys, pos));
    }
    if (name == "trim") {
      need(v.kind == Kind::String || v.is_undefined(), "");
      return Value::string(strip(to_str(v), opt_string(a.get(0, "chars"), "trim", pos), true, true));
    }
    if (name == "upper" || name == "lower" || name == "capitalize" || name == "title") {
      std::string s = to_str(v);
      return Value::string(name == "upper" ? ascii_upper(s) : name == "lower" ? ascii_lower(s)
                           : name == "capitalize" ? capitalize(s) : jinja_title(s));
    }
    if (name == "replace") {
      std::string s = to_str(v);
      return Value::string(replace_all(s, to_str(a.get(0, "old").value_or(Value{})), to_str(a.get(1, "new").value_or(Value{})),
                                       opt_int(a.get(2, "count"), -1, "replace", pos)));
    }
    if (name == "indent") {
      std::optional<Value> w = a.get(0, "width");
      std::string ind = w && w->kind == Kind::String ? w->s : std::string(static_cast<size_t>(opt_int(w, 4, "indent", pos)), ' ');
      bool first = truthy(a.get(1, "first").value_or(Value::boolean(false)));
      bool blank = truthy(a.get(2, "blank").value_or(Value::boolean(false)));
      std::vector<std::string> lines = split(to_str(v) + "\n", std::string("\n"), -1);
      lines.pop_back();
      std::string out;
      for (size_t k = 0; k < lines.size(); ++k) {
        if (k) out += "\n";
        out += (k && (blank || !lines[k].empty()) ? ind : "") + lines[k];
      }
      return Value::string(first ? ind + out : out);
    }
    if (name == "int") {
      Value dflt = a.get(0, "default").value_or(Value::integer(0));
      if (is_integral(v)) return Value::integer(as_int(v));
      if (v.kind == Kind::Float) return Value::integer(static_cast<int64_t>(v.f));
      if (v.kind == Kind::String) {
        std::string s = strip(v.s, std::nullopt, true, true);
        int64_t x = 0;
        auto r = std::from_chars(s.data() + (s.size() && s[0] == '+'), s.data() + s.size(), x);
        if (r.ec == std::errc() && r.ptr == s.data() + s.size() && !s.empty()) return Value::integer(x);
        char* end = nullptr;
        double d = std::strtod(s.c_str(), &end);
        if (!s.empty() && end == s.c_str() + s.size()) return Value::integer(static_cast<int64_t>(d));
      }
      return dflt;
    }
    if (name == "float") {
      Value dflt = a.get(0, "default").value_or(Value::number(0));
      if (is_number(v)) return Value::number(as_double(v));
      if (v.kind == Kind::String) {
        std::string s = strip(v.s, std::nullopt, true, true);
        char* end = nullptr;
        double d = std::strtod(s.c_str(), &end);
        if (!s.empty() && end == s.c_str() + s.size()) return Value::number(d);
      }
      return dflt;
    }
    if (name == "abs") {
      need(is_number(v), "");
      return is_integral(v) ? Value::integer(std::llabs(as_int(v))) : Value::number(std::fabs(v.f));
    }
    if (name == "wordcount") return Value::integer(static_cast<int64_t>(split(to_str(v), std::nullopt, -1).size()));
    // The rest work on sequences.
    if (name == "items") {
      if (v.is_undefined()) return Value::list({});
      need(v.kind == Kind::Object || v.kind == Kind::Namespace, " (items needs a dict)");
      return method(v, "items", Args{}, pos);
    }
    if (name == "dictsort") {
      need(v.kind == Kind::Object, " (dictsort needs a dict)");
      Object o = *v.object;
      std::stable_sort(o.begin(), o.end(), [](const auto& x, const auto& y) { return ascii_lower(x.first) < ascii_lower(y.first); });
      Array r;
      for (auto& [k, x] : o) r.push_back(Value::pair(Value::string(k), x));
      return Value::list(std::move(r));
    }
    std::vector<Value> items = iterate(v, pos);
    if (name == "list") return Value::list(std::move(items));
    if (name == "first" || name == "last") {
      if (items.empty()) return Value{};
      return name == "first" ? items.front() : items.back();
    }
    if (name == "reverse") {
      std::reverse(items.begin(), items.end());
      if (v.kind != Kind::String) return Value::list(std::move(items));
      std::string s;
      for (auto& c : items) s += c.s;
      return Value::string(std::move(s));
    }
    if (name == "join") {
      std::string sep = to_str(a.get(0, "d").value_or(Value::string(""))), out;
      std::optional<std::string> attr = opt_string(a.get(1, "attribute"), "join attribute", pos);
      for (size_t k = 0; k < items.size(); ++k) out += (k ? sep : "") + to_str(attr ? attribute_of(items[k], *attr, pos) : items[k]);
      return Value::string(std::move(out));
    }
    if (name == "unique") {
      Array r;
      for (auto& x : items)
        if (std::none_of(r.begin(), r.end(), [&](const Value& y) { return equal(x, y); })) r.push_back(x);
      return Value::list(std::move(r));
    }
    if (name == "sum") {
      Value total = a.get(1, "start").value_or(Value::integer(0));
      std::optional<std::string> attr = opt_string(a.get(0, "attribute"), "sum attribute", pos);
      for (auto& x : items) total = binary("+", total, attr ? attribute_of(x, *attr, pos) : x, pos);
      return total;
    }
    if (name == "max" || name == "min" || name == "sort") {
      // sort(reverse, case_sensitive, attribute), max/min(case_sensitive, attribute); strings
      // compare case-blind unless case_sensitive.
      const bool sort = name == "sort";
      std::optional<std::string> attr = opt_string(a.get(sort ? 2 : 1, "attribute"), "attribute", pos);
      bool reverse = sort && truthy(a.get(0, "reverse").value_or(Value::boolean(false)));
      bool case_sensitive = truthy(a.get(sort ? 1 : 0, "case_sensitive").value_or(Value::boolean(false)));
      auto key = [&](const Value& x) {
        Value k = attr ? attribute_of(x, *attr, pos) : x;
        if (!case_sensitive && k.kind == Kind::String) k.s = ascii_lower(k.s);
        return k;
      };
      std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
        return reverse ? less(key(y), key(x), pos) : less(key(x), key(y), pos);
      });
      if (name == "sort") return Value::list(std::move(items));
      if (items.empty()) return Value{};
      return name == "min" ? items.front() : items.back();
    }
    if (name == "map") {
      Array r;
      std::optional<Value> attr;
      for (const auto& [n, x] : a.kw)
        if (n == "attribute") attr = x;
      for (auto& x : items) {
        if (attr) {
          Value got = attribute_of(x, want_string(*attr, "map attribute", pos), pos);
          if (got.is_undefined())
            for (const auto& [n, d] : a.kw)
              if (n == "default") got = d;
          r.push_back(got);
        } else {
          if (a.pos.empty()) fail(pos, "map() needs a filter name or attribute=");
          std::string f = want_string(a.pos[0], "map", pos);
          if (!kFilters.count(f)) fail(pos, fmt::format("unsupported filter '{}'", f));
          Args rest;
          rest.pos.assign(a.pos.begin() + 1, a.pos.end());
          r.push_back(apply_filter(f, x, rest, pos));
        }
      }
      return Value::list(std::move(r));
    }
    if (name == "select" || name == "reject" || name == "selectattr" || name == "rejectattr") {
      const bool by_attr = name.find("attr") != std::string::npos;
      const bool keep_if = name.rfind("select", 0) == 0;
      size_t k = 0;
      std::string attr;
      if (by_attr) {
        if (a.pos.empty()) fail(pos, fmt::format("{}() needs an attribute name", name));
        attr = want_string(a.pos[k++], name.c_str(), pos);
      }
      std::optional<std::string> test_name;
      if (k < a.pos.size()) test_name = want_string(a.pos[k++], name.c_str(), pos);
      if (test_name && !kTests.count(*test_name)) fail(pos, fmt::format("unsupported test '{}'", *test_name));
      Args rest;
      rest.pos.assign(a.pos.begin() + static_cast<std::ptrdiff_t>(k), a.pos.end());
      Array r;
      for (auto& x : items) {
        Value subject = by_attr ? attribute_of(x, attr, pos) : x;
        bool hit = test_name ? apply_test(*test_name, subject, rest, pos) : truthy(subject);
        if (hit == keep_if) r.push_back(x);
      }
      return Value::list(std::move(r));
    }
    fail(pos, fmt::format("unsupported filter '{}'", name));
  }
};

std::vector<Value> items_of(const Value& v) {
  std::vector<Value> out;
  if (v.kind == Kind::Array) return *v.array;
  if (v.kind == Kind::Object || v.kind == Kind::Namespace)
    for (const auto& [k, x] : *v.object) out.push_back(Value::string(k));
  if (v.kind == Kind::String)
    for (std::string_view cp : code_points(v.s)) out.push_back(Value::string(std::string(cp)));
  return out;
}

// What jinja2 does to the source first: every line ending becomes "\n", and one final newline
// goes (keep_trailing_newline is off).
std::string normalize_newlines(std::string_view src) {
  std::string out;
  out.reserve(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i] == '\r') {
      out += '\n';
      if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
    } else {
      out += src[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace

Template::Template(std::string_view source, std::string origin)
    : origin_(std::move(origin)), source_(normalize_newlines(source)) {
  Located err(&origin_, &source_);
  body_ = Parser(lex(source_, err), err).parse_template();
}

Template::~Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

std::string Template::render(const std::map<std::string, Value>& globals) const {
  Located err(&origin_, &source_);
  Renderer r(err, globals);
  std::string out;
  r.render(body_, out);
  return out;
}

}  // namespace yardstick::jinja
