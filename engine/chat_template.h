// A model's chat template: the Jinja text transformers renders with apply_chat_template, found
// where transformers looks for it and rendered by engine/jinja.h. DeepSeek LLM's template is
// built in, for a model that has none (a base model run in chat style).
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "engine/jinja.h"
#include "engine/tokenizer.h"   // ChatMessage

namespace yardstick {

class ChatTemplate {
 public:
  // Parses `source`; `origin` (its file) names it in errors. Throws InputError for a template
  // outside the interpreter's subset (engine/jinja.h), naming the construct and its position.
  // A template found elsewhere than find_chat_template looks (GGUF's tokenizer.chat_template)
  // comes in here as its text.
  ChatTemplate(std::string_view source, std::string origin);

  // DeepSeek LLM's (shared/reference/tokenizer/chat_template.jinja).
  static const ChatTemplate& deepseek();

  // apply_chat_template(messages, add_generation_prompt, tokenize=False) of transformers: the
  // variables are messages, add_generation_prompt, bos_token and eos_token,
  // tools and documents (none). Throws InputError when rendering fails or the template raises.
  std::string render(std::span<const ChatMessage> messages, std::string_view bos_token, std::string_view eos_token,
                     bool add_generation_prompt) const;

  // What the template writes between the generation prompt and the text of an assistant reply:
  // " " for DeepSeek's ("Assistant:" then " " + reply), "" for ChatML's. A choice of a
  // multiple-choice question is scored as this + the choice. "" when the template does not
  // render a reply as a continuation of its generation prompt.
  std::string reply_prefix(std::string_view bos_token, std::string_view eos_token) const;

  // Whether a rendered conversation starts with the template's bos_token variable (not merely with
  // its text: SmolLM2's ChatML opens with "<|im_start|>", its bos_token, as a literal). A prompt's
  // BOS id is then the template's, else (ChatML) it has none, as apply_chat_template(tokenize=True)
  // has none: a literal stays text, whose tokens are the same ids.
  bool opens_with_bos(std::string_view bos_token, std::string_view eos_token) const;

  const std::string& origin() const { return tmpl_->origin(); }

 private:
  std::shared_ptr<const jinja::Template> tmpl_;
};

// The template transformers uses for a tokenizer folder: chat_template.jinja beside
// tokenizer_config.json, else tokenizer_config.json's "chat_template" (a string, or a list of
// {"name", "template"} of which "default" is taken). nullopt when the folder has neither, or has
// no tokenizer_config.json (a bare chat_template.jinja, as in shared/reference/tokenizer, is not a
// tokenizer folder's).
// Throws ModelFileError for an unreadable or malformed file, InputError for a template outside
// the subset.
std::optional<ChatTemplate> find_chat_template(const std::filesystem::path& dir);

}  // namespace yardstick
