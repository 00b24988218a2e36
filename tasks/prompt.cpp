#include "tasks/prompt.h"

#include <fmt/core.h>

#include "engine/chat_template.h"
#include "engine/error.h"

namespace yardstick {

namespace {

// Walks a template, calling on_text for literal runs and on_field for each {name}.
template <class OnText, class OnField>
void scan_template(std::string_view tmpl, OnText on_text, OnField on_field) {
  size_t i = 0;
  while (i < tmpl.size()) {
    char c = tmpl[i];
    if ((c == '{' || c == '}') && i + 1 < tmpl.size() && tmpl[i + 1] == c) {
      on_text(std::string_view(&tmpl[i], 1));
      i += 2;
    } else if (c == '{') {
      size_t end = tmpl.find('}', i + 1);
      if (end == std::string_view::npos)
        throw InputError(fmt::format("template has an unclosed '{{' at byte {}", i));
      std::string_view name = tmpl.substr(i + 1, end - i - 1);
      if (name.empty() || name.find('{') != std::string_view::npos)
        throw InputError(fmt::format("template has an empty or malformed placeholder at byte {}", i));
      on_field(std::string(name));
      i = end + 1;
    } else if (c == '}') {
      throw InputError(fmt::format("template has an unmatched '}}' at byte {} (write '}}}}')", i));
    } else {
      size_t next = tmpl.find_first_of("{}", i);
      if (next == std::string_view::npos) next = tmpl.size();
      on_text(tmpl.substr(i, next - i));
      i = next;
    }
  }
}

}  // namespace

std::vector<std::string> template_fields(std::string_view tmpl) {
  std::vector<std::string> out;
  scan_template(tmpl, [](std::string_view) {}, [&](std::string name) { out.push_back(std::move(name)); });
  return out;
}

std::string fill_template(std::string_view tmpl, const Fields& fields) {
  std::string out;
  scan_template(
      tmpl, [&](std::string_view text) { out += text; },
      [&](const std::string& name) {
        auto it = fields.find(name);
        if (it == fields.end()) throw InputError(fmt::format("template field {{{}}} has no value", name));
        out += it->second;
      });
  return out;
}

std::string build_prompt(const TaskSpec& spec, std::span<const Fields> exemplars, const Doc& doc,
                         const PromptOptions& options) {
  const StyleSpec& style = spec.style(options.style);
  if (!doc.exemplars.empty()) exemplars = doc.exemplars;
  if (options.shots < 0 || static_cast<size_t>(options.shots) > exemplars.size())
    throw InputError(fmt::format("task {}: {} shots asked for, but only {} exemplars exist", spec.name,
                                 options.shots, exemplars.size()));
  auto shots = exemplars.first(static_cast<size_t>(options.shots));

  const std::string prefix = fill_template(style.prefix_template, doc.fields);
  if (options.style == PromptStyle::Base) {
    std::string text = prefix;
    for (const Fields& shot : shots) {
      text += fill_template(style.shot_template, shot);
      text += style.shot_separator;
    }
    text += fill_template(style.query_template, doc.fields);
    return text;
  }

  std::vector<ChatMessage> messages;
  for (const Fields& shot : shots) {
    messages.push_back({"user", fill_template(style.query_template, shot)});
    messages.push_back({"assistant", fill_template(style.shot_answer_template, shot)});
  }
  messages.push_back({"user", fill_template(style.query_template, doc.fields)});
  messages.front().content = prefix + messages.front().content;   // the header opens the conversation
  // BOS travels as an id, not as text (see prompt.h): a bos_token the template opens with is cut.
  // Later ones (Llama 2 opens every turn with one) stay text, as apply_chat_template leaves them.
  const ChatTemplate& tmpl = options.chat_template ? *options.chat_template : ChatTemplate::deepseek();
  std::string text = tmpl.render(messages, options.bos_token, options.eos_token, /*add_generation_prompt=*/true);
  if (text.starts_with(options.bos_token) && tmpl.opens_with_bos(options.bos_token, options.eos_token))
    text.erase(0, options.bos_token.size());
  return text;
}

}  // namespace yardstick
