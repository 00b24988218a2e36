// Prompt text from a task spec, its exemplars and one doc. Base models get the few-shot text
// (exemplars joined by the spec's separator, then the query); chat models get the chat template
// with the exemplars as earlier user/assistant turns. BOS is never part of the text: the caller
// prepends the BOS id when tokenizing, for both styles alike.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tasks/doc.h"
#include "tasks/task_spec.h"

namespace yardstick {

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
};

// Throws InputError when more shots are asked for than there are exemplars.
std::string build_prompt(const TaskSpec& spec, std::span<const Fields> exemplars, const Doc& doc,
                         const PromptOptions& options);

}  // namespace yardstick
