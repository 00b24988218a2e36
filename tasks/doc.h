// One evaluation item of a task, as the prompt builder and the scorer see it.
#pragma once

#include <map>
#include <string>

namespace yardstick {

// Template fields by name (the task spec maps them from dataset keys).
using Fields = std::map<std::string, std::string>;

struct Doc {
  std::string doc_id;   // the dataset's own id, else the 0-based line index (DESIGN.md)
  Fields fields;        // what the prompt templates may use, e.g. {question}
  std::string gold;     // what the scorer grades against (GSM8K: the reference answer text)
  std::string reference;   // the reference solution; the built-in "gold" model answers with it
  // Values that break a task's accuracy down, by name: {"level": "Level 3", "subject": "Algebra"}.
  std::map<std::string, std::string> groups;
};

}  // namespace yardstick
