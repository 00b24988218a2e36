#include "tasks/records.h"

#include <set>

#include <fmt/core.h>

#include "engine/error.h"
#include "tasks/prompt.h"

namespace yardstick {

namespace {

// A record value as template text: "Level 3" stays, 3 becomes "3". A key starting with '/' is a
// JSON pointer into the record ("/messages/0/content").
std::string field_text(const nlohmann::json& row, const std::string& key, const std::string& origin, size_t line) {
  const nlohmann::json* value = nullptr;
  if (key.starts_with("/")) {
    nlohmann::json::json_pointer ptr;
    try {
      ptr = nlohmann::json::json_pointer(key);
    } catch (const nlohmann::json::exception&) {
      throw InputError(fmt::format("{}:{}: \"{}\" is not a JSON pointer", origin, line + 1, key));
    }
    if (row.contains(ptr)) value = &row.at(ptr);
  } else if (auto it = row.find(key); it != row.end()) {
    value = &*it;
  }
  if (!value) throw InputError(fmt::format("{}:{}: no field \"{}\"", origin, line + 1, key));
  const nlohmann::json* it = value;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number()) return it->dump();
  throw InputError(fmt::format("{}:{}: field \"{}\" is neither a string nor a number", origin, line + 1, key));
}

}  // namespace

std::vector<Doc> record_docs(const std::vector<nlohmann::json>& rows, const TaskSpec& spec, const std::string& origin) {
  const DatasetSpec& ds = spec.dataset;
  if (ds.gold.empty())
    throw InputError(fmt::format("task {}: dataset.gold must say what the scorer grades against", spec.name));
  const std::string id_key = ds.doc_id == "line_index" ? "" : ds.doc_id.substr(std::string("field:").size());
  std::vector<Doc> docs;
  docs.reserve(rows.size());
  std::set<std::string> seen;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    if (!row.is_object()) throw InputError(fmt::format("{}:{}: expected a JSON object", origin, i + 1));
    Doc doc;
    doc.doc_id = id_key.empty() ? std::to_string(i) : field_text(row, id_key, origin, i);
    if (!seen.insert(doc.doc_id).second)
      throw InputError(fmt::format("{}:{}: doc id \"{}\" appears twice", origin, i + 1, doc.doc_id));
    for (const auto& [field, key] : ds.fields) doc.fields[field] = field_text(row, key, origin, i);
    doc.gold = fill_template(ds.gold, doc.fields);
    doc.reference = ds.reference.empty() ? doc.gold : fill_template(ds.reference, doc.fields);
    for (const auto& g : ds.groups) doc.groups[g] = doc.fields.at(g);
    docs.push_back(std::move(doc));
  }
  return docs;
}

}  // namespace yardstick
