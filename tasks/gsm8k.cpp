#include "tasks/gsm8k.h"

#include <fmt/core.h>

#include "engine/error.h"

namespace yardstick {

namespace {

std::string string_field(const nlohmann::json& row, const std::string& key, const std::string& origin,
                         size_t line) {
  auto it = row.find(key);
  if (it == row.end() || !it->is_string())
    throw InputError(fmt::format("{}:{}: expected a string field \"{}\"", origin, line + 1, key));
  return it->get<std::string>();
}

std::string doc_id_of(const nlohmann::json& row, const std::string& rule, const std::string& origin,
                      size_t line) {
  if (rule == "line_index") return std::to_string(line);
  std::string key = rule.substr(std::string("field:").size());
  auto it = row.find(key);
  if (it == row.end()) throw InputError(fmt::format("{}:{}: no id field \"{}\"", origin, line + 1, key));
  return it->is_string() ? it->get<std::string>() : it->dump();
}

}  // namespace

std::vector<Doc> gsm8k_docs(const std::vector<nlohmann::json>& rows, const TaskSpec& spec,
                            const std::string& origin) {
  auto answer_key = spec.dataset.fields.find("answer");
  if (answer_key == spec.dataset.fields.end())
    throw InputError(fmt::format("task {}: dataset.fields must map \"answer\" for the GSM8K adapter", spec.name));
  std::vector<Doc> docs;
  docs.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    if (!row.is_object()) throw InputError(fmt::format("{}:{}: expected a JSON object", origin, i + 1));
    Doc doc;
    doc.doc_id = doc_id_of(row, spec.dataset.doc_id, origin, i);
    for (const auto& [field, key] : spec.dataset.fields) doc.fields[field] = string_field(row, key, origin, i);
    doc.gold = doc.fields.at("answer");
    doc.reference = doc.gold;
    docs.push_back(std::move(doc));
  }
  return docs;
}

}  // namespace yardstick
