#include "tasks/exam_csv.h"

#include <functional>

#include <fmt/format.h>

#include "datasets/readers.h"
#include "engine/error.h"
#include "tasks/adapters.h"

namespace yardstick {

namespace {

namespace fs = std::filesystem;

struct Subject {
  std::string id;         // file stem: "accountant"
  std::string name_zh;    // "注册会计师"
  std::string category;   // "STEM", "Social Science", "Humanities", "Other", ...
};

// How one benchmark lays out its files and names its columns.
struct ExamLayout {
  std::string benchmark;        // "ceval"
  std::string file_suffix;      // of a split file: "_val.csv" for C-Eval's val split, ".csv" for CMMLU
  std::string question_column;  // "question" / "Question"
  std::string answer_column;    // "answer" / "Answer"
};

Fields row_fields(const CsvTable& table, const std::vector<std::string>& row, const ExamLayout& layout,
                  const Subject& subject) {
  Fields f;
  f["subject"] = subject.name_zh;
  f["question"] = row[table.column(layout.question_column)];
  for (const char* option : {"A", "B", "C", "D"}) f[option] = row[table.column(option)];
  f["answer"] = row[table.column(layout.answer_column)];
  return f;
}

std::string answer_index(const std::string& letter, const std::string& origin, size_t row) {
  if (letter.size() != 1 || letter[0] < 'A' || letter[0] > 'D')
    throw InputError(fmt::format("{}: data row {}: answer \"{}\" is not one of A-D", origin, row, letter));
  return std::to_string(letter[0] - 'A');
}

// Each subject file of the split folder, with its exemplars from the fewshot split's folder.
void load_exam(const TaskSpec& spec, const fs::path& data_dir, TaskData& data, const ExamLayout& layout,
               const std::function<Subject(const std::string& id)>& subject_of) {
  require_provided_fields(spec, {"subject", "question", "A", "B", "C", "D", "answer"},
                          {"subject", "question", "A", "B", "C", "D", "answer"});
  auto files = manifest_files_under(spec.dataset.file);
  if (files.empty())
    throw InputError(fmt::format("task {}: the dataset manifest lists no files under {}", spec.name, spec.dataset.file));
  for (const auto& relative : files) {
    std::string name = relative.substr(spec.dataset.file.size() + 1);
    if (name.size() <= layout.file_suffix.size() || !name.ends_with(layout.file_suffix)) continue;
    Subject subject = subject_of(name.substr(0, name.size() - layout.file_suffix.size()));

    std::vector<Fields> exemplars;
    if (!spec.fewshot.split.empty()) {
      std::string dev_suffix = layout.benchmark == "ceval" ? "_" + spec.fewshot.split + ".csv" : ".csv";
      std::string dev = fmt::format("{}/{}/{}{}", layout.benchmark, spec.fewshot.split, subject.id, dev_suffix);
      CsvTable table = read_csv(checked_data_file(data_dir, dev, data));
      for (const auto& row : table.rows) exemplars.push_back(row_fields(table, row, layout, subject));
    }

    fs::path path = checked_data_file(data_dir, relative, data);
    CsvTable table = read_csv(path);
    for (size_t i = 0; i < table.rows.size(); ++i) {
      Doc doc;
      doc.doc_id = fmt::format("{}/{}", subject.id, i);
      doc.fields = row_fields(table, table.rows[i], layout, subject);
      doc.choices = {"A", "B", "C", "D"};
      doc.gold = answer_index(doc.fields.at("answer"), path.string(), i + 1);
      doc.reference = doc.gold;
      doc.groups = {{"subject", subject.id}, {"category", subject.category}};
      doc.exemplars = exemplars;
      data.docs.push_back(std::move(doc));
    }
  }
}

}  // namespace

void load_ceval(const TaskSpec& spec, const fs::path& data_dir, TaskData& data) {
  // subject_mapping.json: {"accountant": ["Accountant", "注册会计师", "Other"], ...}
  nlohmann::json mapping = read_json(checked_data_file(data_dir, "ceval/subject_mapping.json", data));
  std::string split = spec.dataset.file.substr(spec.dataset.file.rfind('/') + 1);
  load_exam(spec, data_dir, data, {"ceval", "_" + split + ".csv", "question", "answer"}, [&](const std::string& id) {
    auto it = mapping.find(id);
    if (it == mapping.end() || !it->is_array() || it->size() < 3)
      throw InputError(fmt::format("ceval/subject_mapping.json: no entry for subject \"{}\"", id));
    return Subject{id, it->at(1).get<std::string>(), it->at(2).get<std::string>()};
  });
}

void load_cmmlu(const TaskSpec& spec, const fs::path& data_dir, TaskData& data) {
  // categories.json: name_en2zh (subject -> Chinese name), subcategories (subject -> [subcategory]),
  // categories (category -> [subcategory]); a subject's category is its first subcategory's.
  nlohmann::json cats = read_json(checked_data_file(data_dir, "cmmlu/categories.json", data));
  load_exam(spec, data_dir, data, {"cmmlu", ".csv", "Question", "Answer"}, [&](const std::string& id) {
    const auto& names = cats.at("name_en2zh");
    const auto& subcats = cats.at("subcategories");
    if (!names.contains(id) || !subcats.contains(id) || subcats.at(id).empty())
      throw InputError(fmt::format("cmmlu/categories.json: no entry for subject \"{}\"", id));
    std::string first = subcats.at(id).at(0).get<std::string>();
    std::string category;
    for (const auto& [cat, members] : cats.at("categories").items())
      for (const auto& m : members)
        if (m.get<std::string>() == first) category = cat;
    if (category.empty())
      throw InputError(fmt::format("cmmlu/categories.json: subcategory \"{}\" of \"{}\" has no category", first, id));
    return Subject{id, names.at(id).get<std::string>(), category};
  });
}

}  // namespace yardstick
