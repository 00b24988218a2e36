// Prompt text from a task spec, its exemplars and one doc. Base models get the few-shot text
// (exemplars joined by the spec's separator, then the query); chat models get the chat template
// (the model's own, else DeepSeek's) with the exemplars as earlier user/assistant turns. BOS is
// never part of the text: a chat template's leading BOS is cut, and the caller prepends the BOS id
// when tokenizing (for a chat template, when ChatTemplate::opens_with_bos says so).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tasks/doc.h"
#include "tasks/task_spec.h"

namespace yardstick {

class ChatTemplate;

// The names used as {name} in a template, in order of appearance. "{{" and "}}" stand for
// literal braces. Throws InputError on an unclosed or empty placeholder.
std::vector<std::string> template_fields(std::string_view tmpl);
// Replaces each {name} with fields[name]. Substituted values are never re-scanned, so braces in a
// question are safe. Throws InputError naming a field the map lacks.
std::string fill_template(std::string_view tmpl, const Fields& fields);

struct PromptOptions {
  PromptStyle style = PromptStyle::Base;
  int shots = 0;                 // exemplars used (the first `shots` of the list)
  std::string eos_token;         // chat: closes each assistant turn of an exemplar
  std::string bos_token;         // chat: the template's bos_token (a leading one is cut from the text)
  const ChatTemplate* chat_template = nullptr;   // chat: the model's; null: DeepSeek's
};

// Throws InputError when more shots are asked for than there are exemplars.
std::string build_prompt(const TaskSpec& spec, std::span<const Fields> exemplars, const Doc& doc,
                         const PromptOptions& options);

}  // namespace yardstick
