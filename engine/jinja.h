// A small Jinja interpreter for the subset that Hugging Face chat templates use, with the settings
// transformers renders them with (jinja2's ImmutableSandboxedEnvironment, trim_blocks and
// lstrip_blocks on, loop controls, a JSON `tojson` that keeps non-ASCII text, `raise_exception`).
//
// The subset: {{ }}, {% %}, {# #} and their whitespace control (- and +); if/elif/else, for (with
// tuple targets, an `if` filter, `else`, break/continue), set (to a name, a tuple of names, a
// namespace attribute, or as a block), {% generation %} (transparent); the loop object; literals
// (strings, numbers, lists, dicts, tuples), the operators of Python that Jinja has, `~`, `in`,
// inline if/else, slicing and indexing; the filters, tests and string/dict methods listed in
// jinja.cpp; namespace(), dict(), range(), raise_exception() and transformers' strftime_now() (the
// local time now: a template that calls it renders the date into the prompt, as
// apply_chat_template does). Anything else is an InputError naming the construct
// and its position (line and column), raised when the template is parsed where Jinja would, else
// when it is rendered.
//
// Text is UTF-8; indexing, slicing and length count code points as Python does. Case changes
// (upper, lower, title, capitalize) touch ASCII letters only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace yardstick::jinja {

struct Value;
using Array = std::vector<Value>;
// A dict keeps its keys in insertion order, as Python's does (items() and tojson show it).
using Object = std::vector<std::pair<std::string, Value>>;

struct Value {
  enum class Kind { Undefined, None, Bool, Int, Float, String, Array, Object, Namespace, Function };
  Kind kind = Kind::Undefined;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;                        // String; Function: the function's name
  std::shared_ptr<Array> array;         // Array
  bool tuple = false;                   // Array: a tuple, as Python prints it "(a, b)"
  std::shared_ptr<Object> object;       // Object, Namespace (a namespace is mutable)

  static Value none() { Value v; v.kind = Kind::None; return v; }
  static Value boolean(bool x) { Value v; v.kind = Kind::Bool; v.b = x; return v; }
  static Value integer(int64_t x) { Value v; v.kind = Kind::Int; v.i = x; return v; }
  static Value number(double x) { Value v; v.kind = Kind::Float; v.f = x; return v; }
  static Value string(std::string x) { Value v; v.kind = Kind::String; v.s = std::move(x); return v; }
  static Value list(Array x) { Value v; v.kind = Kind::Array; v.array = std::make_shared<Array>(std::move(x)); return v; }
  static Value dict(Object x) { Value v; v.kind = Kind::Object; v.object = std::make_shared<Object>(std::move(x)); return v; }
  static Value pair(Value a, Value b) { Value v = list({std::move(a), std::move(b)}); v.tuple = true; return v; }
  static Value function(std::string name) { Value v; v.kind = Kind::Function; v.s = std::move(name); return v; }

  bool is_undefined() const { return kind == Kind::Undefined; }
  // Object or Namespace: the key's value, or null when it has none.
  const Value* find(std::string_view key) const;
};

// JSON null, booleans, numbers, strings, arrays and objects, as Python's json.loads gives them.
Value from_json(const nlohmann::json& j);

struct Node;

class Template {
 public:
  // Parses `source`; `origin` (a file name) starts every error message.
  Template(std::string_view source, std::string origin);
  ~Template();
  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;

  // Renders with these global variables (and the built-ins namespace and raise_exception).
  // Throws InputError for a runtime error or a raise_exception() of the template.
  std::string render(const std::map<std::string, Value>& globals) const;

  const std::string& origin() const { return origin_; }

 private:
  std::string origin_;
  std::string source_;   // normalized newlines; positions in errors refer to it
  std::vector<std::unique_ptr<Node>> body_;
};

}  // namespace yardstick::jinja
