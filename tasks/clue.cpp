#include "tasks/clue.h"

#include <algorithm>

#include <fmt/format.h>

#include "datasets/readers.h"
#include "engine/error.h"
#include "tasks/adapters.h"

namespace yardstick {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string text_of(const json& row, const char* key, const std::string& origin, size_t line) {
  if (!row.is_object() || !row.contains(key) || !row.at(key).is_string())
    throw InputError(fmt::format("{}:{}: expected a string field \"{}\"", origin, line, key));
  return row.at(key).get<std::string>();
}

std::vector<std::string> strings_of(const json& row, const char* key, const std::string& origin, size_t line) {
  if (!row.is_object() || !row.contains(key) || !row.at(key).is_array() || row.at(key).size() < 2)
    throw InputError(fmt::format("{}:{}: expected an array of choices \"{}\"", origin, line, key));
  std::vector<std::string> out;
  for (const auto& s : row.at(key)) {
    if (!s.is_string()) throw InputError(fmt::format("{}:{}: a choice in \"{}\" is not a string", origin, line, key));
    out.push_back(s.get<std::string>());
  }
  return out;
}

std::string gold_index(const json& row, size_t n_choices, const std::string& origin, size_t line) {
  if (!row.contains("answer") || !row.at("answer").is_number_integer() || row.at("answer").get<int64_t>() < 0 ||
      row.at("answer").get<size_t>() >= n_choices)
    throw InputError(fmt::format("{}:{}: \"answer\" is not the index of one of the {} choices", origin, line, n_choices));
  return std::to_string(row.at("answer").get<int64_t>());
}

}  // namespace

void load_chid(const TaskSpec& spec, const fs::path& data_dir, TaskData& data) {
  require_provided_fields(spec, {"before"});
  fs::path path = checked_data_file(data_dir, spec.dataset.file, data);
  auto rows = read_jsonl(path);
  for (size_t i = 0; i < rows.size(); ++i) {
    const json& row = rows[i];
    std::string content = text_of(row, "content", path.string(), i + 1);
    size_t blank = content.find("#idiom#");
    if (blank == std::string::npos)
      throw InputError(fmt::format("{}:{}: the content has no #idiom# blank", path.string(), i + 1));
    std::string after = content.substr(blank + 7);
    Doc doc;
    doc.doc_id = row.contains("id") ? row.at("id").dump() : std::to_string(i);
    doc.fields["before"] = content.substr(0, blank);
    for (const auto& idiom : strings_of(row, "candidates", path.string(), i + 1)) doc.choices.push_back(idiom + after);
    doc.gold = gold_index(row, doc.choices.size(), path.string(), i + 1);
    doc.reference = doc.gold;
    data.docs.push_back(std::move(doc));
  }
}

void load_c3(const TaskSpec& spec, const fs::path& data_dir, TaskData& data) {
  require_provided_fields(spec, {"passage", "question"});
  for (const char* source : {"m", "d"}) {
    std::string relative = fmt::format("{}/c3-{}-{}.json", spec.dataset.file, source, spec.dataset.split);
    fs::path path = checked_data_file(data_dir, relative, data);
    json items = read_json(path);
    if (!items.is_array()) throw InputError(fmt::format("{}: expected a JSON array of items", path.string()));
    for (size_t i = 0; i < items.size(); ++i) {
      const json& item = items[i];
      if (!item.is_array() || item.size() < 2 || !item[0].is_array() || !item[1].is_array())
        throw InputError(fmt::format("{}: item {} is not [paragraphs, questions, id]", path.string(), i));
      std::string passage;
      for (const auto& p : item[0]) {
        if (!passage.empty()) passage += '\n';
        passage += p.get<std::string>();
      }
      for (size_t q = 0; q < item[1].size(); ++q) {
        const json& question = item[1][q];
        std::string where = fmt::format("item {} question {}", i, q);
        Doc doc;
        doc.doc_id = fmt::format("{}-{}-{}", source, i, q);
        doc.fields["passage"] = passage;
        doc.fields["question"] = text_of(question, "question", path.string() + " " + where, 0);
        doc.choices = strings_of(question, "choice", path.string() + " " + where, 0);
        std::string answer = text_of(question, "answer", path.string() + " " + where, 0);
        auto it = std::find(doc.choices.begin(), doc.choices.end(), answer);
        if (it == doc.choices.end())
          throw InputError(fmt::format("{}: {}: the answer is not one of the choices", path.string(), where));
        doc.gold = std::to_string(it - doc.choices.begin());
        doc.reference = doc.gold;
        doc.groups = {{"source", source}};
        data.docs.push_back(std::move(doc));
      }
    }
  }
}

void load_ccpm(const TaskSpec& spec, const fs::path& data_dir, TaskData& data) {
  require_provided_fields(spec, {"translation"});
  fs::path path = checked_data_file(data_dir, spec.dataset.file, data);
  auto rows = read_jsonl(path);
  for (size_t i = 0; i < rows.size(); ++i) {
    Doc doc;
    doc.doc_id = std::to_string(i);
    doc.fields["translation"] = text_of(rows[i], "translation", path.string(), i + 1);
    doc.choices = strings_of(rows[i], "choices", path.string(), i + 1);
    doc.gold = gold_index(rows[i], doc.choices.size(), path.string(), i + 1);
    doc.reference = doc.gold;
    data.docs.push_back(std::move(doc));
  }
}

void load_cluewsc(const TaskSpec& spec, const fs::path& data_dir, TaskData& data) {
  require_provided_fields(spec, {"text", "pronoun", "candidate"}, {"text", "pronoun", "referent"});
  auto read = [&](const std::string& relative, auto&& each) {
    fs::path path = checked_data_file(data_dir, relative, data);
    auto rows = read_jsonl(path);
    for (size_t i = 0; i < rows.size(); ++i) {
      const json& row = rows[i];
      if (!row.contains("target") || !row.at("target").is_object())
        throw InputError(fmt::format("{}:{}: no \"target\" object", path.string(), i + 1));
      std::string label = text_of(row, "label", path.string(), i + 1);
      if (label != "true" && label != "false")
        throw InputError(fmt::format("{}:{}: label \"{}\" is neither true nor false", path.string(), i + 1, label));
      each(i, text_of(row, "text", path.string(), i + 1), text_of(row.at("target"), "span1_text", path.string(), i + 1),
           text_of(row.at("target"), "span2_text", path.string(), i + 1), label == "true");
    }
  };
  read(spec.dataset.file, [&](size_t i, std::string text, std::string span1, std::string span2, bool label) {
    Doc doc;
    doc.doc_id = std::to_string(i);
    doc.fields = {{"text", text}, {"pronoun", span2}, {"candidate", span1}};
    doc.gold = json{{"candidate", span1}, {"label", label}}.dump();
    doc.reference = label ? span1 : "不是" + span1;
    data.docs.push_back(std::move(doc));
  });
  if (!spec.fewshot.split.empty()) {
    read("cluewsc/" + spec.fewshot.split + "_few_all.json",
         [&](size_t, std::string text, std::string span1, std::string span2, bool label) {
           // Only true pairs show what the pronoun refers to.
           if (label) data.exemplars.push_back({{"text", text}, {"pronoun", span2}, {"referent", span1}});
         });
  }
}

}  // namespace yardstick
