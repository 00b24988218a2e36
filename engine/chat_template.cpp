// render_chat (declared in engine/tokenizer.h): the DeepSeek LLM chat template,
// shared/reference/tokenizer/chat_template.jinja, written out in C++:
//
//   {{ bos_token }}
//   {% for message in messages %}
//     user      -> 'User: ' + content + '\n\n'
//     assistant -> 'Assistant: ' + content + eos_token
//     system    -> content + '\n\n'
//   {% endfor %}
//   {% if add_generation_prompt %}'Assistant:'{% endif %}
//
// Like the template, a message with any other role renders as nothing.
#include "engine/tokenizer.h"

namespace yardstick {

std::string render_chat(std::span<const ChatMessage> messages, std::string_view bos_token,
                        std::string_view eos_token, bool add_generation_prompt) {
  std::string out(bos_token);
  for (const ChatMessage& m : messages) {
    if (m.role == "user") {
      out += "User: ";
      out += m.content;
      out += "\n\n";
    } else if (m.role == "assistant") {
      out += "Assistant: ";
      out += m.content;
      out += eos_token;
    } else if (m.role == "system") {
      out += m.content;
      out += "\n\n";
    }
  }
  // No trailing space: the reply's first token carries its own leading space.
  if (add_generation_prompt) out += "Assistant:";
  return out;
}

}  // namespace yardstick
