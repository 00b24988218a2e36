#include "reports/published.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <tuple>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "engine/error.h"

namespace yardstick {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool iequals(std::string_view a, std::string_view b) { return lower(a) == lower(b); }

nlohmann::json read_json_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot read", path.string()));
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(fmt::format("{}: not valid JSON: {}", path.string(), e.what()));
  }
}

PublishedRecord parse_record(const nlohmann::json& j, const std::filesystem::path& file, size_t index) {
  auto where = [&] { return fmt::format("{}: record {}", file.string(), index); };
  if (!j.is_object()) throw Error(where() + " is not an object");
  auto text = [&](const char* key, bool required) {
    auto it = j.find(key);
    if (it != j.end() && it->is_string()) return it->get<std::string>();
    if (required) throw Error(fmt::format("{} has no \"{}\" string", where(), key));
    return std::string();
  };
  PublishedRecord r;
  r.model = text("model", true);
  r.benchmark = text("benchmark", true);
  auto value = j.find("value");
  if (value == j.end() || !value->is_number()) throw Error(where() + " has no numeric \"value\"");
  r.value = value->get<double>();
  r.metric = text("metric", true);
  r.unit = text("unit", false);
  if (r.unit.empty()) r.unit = "unknown";
  r.percent = r.unit == "percent";
  if (auto s = j.find("shots"); s != j.end() && s->is_number_integer()) r.shots = s->get<int>();
  r.source = text("source", true);
  r.source_detail = text("source_detail", false);
  r.confirmed_primary = j.value("confirmed_primary", false);
  r.note = text("note", false);
  return r;
}

// Rule 3 of candidates(): the paper's tables, then the README, then more_results.md.
int source_rank(const std::string& source) {
  if (source == "PAPER") return 0;
  if (source == "GH_README") return 1;
  if (source == "GH_MORE") return 2;
  return 3;
}

}  // namespace

PublishedNumbers PublishedNumbers::load(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw Error(fmt::format("{}: no such directory of published numbers", dir.string()));
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  std::sort(files.begin(), files.end());   // a stable order for "file order" in the ranking

  PublishedNumbers out;
  for (const auto& file : files) {
    auto doc = read_json_file(file);
    if (file.filename() == "task_benchmarks.json") {
      auto tasks = doc.find("tasks");
      if (tasks == doc.end() || !tasks->is_object())
        throw Error(fmt::format("{}: no \"tasks\" object", file.string()));
      for (const auto& [task, name] : tasks->items()) {
        if (!name.is_string()) throw Error(fmt::format("{}: task \"{}\" maps to a non-string", file.string(), task));
        out.task_benchmarks_[lower(task)] = name.get<std::string>();
      }
      continue;
    }
    auto records = doc.find("records");
    if (records == doc.end()) continue;   // not a file of published numbers
    if (!records->is_array()) throw Error(fmt::format("{}: \"records\" is not an array", file.string()));
    for (size_t i = 0; i < records->size(); ++i) out.records_.push_back(parse_record((*records)[i], file, i));
  }
  if (out.records_.empty()) throw Error(fmt::format("{}: no published records in any *.json", dir.string()));
  return out;
}

std::filesystem::path PublishedNumbers::default_dir() {
  // As datasets/checkout.h: the checkout holding the running executable, then the one this
  // was built from (CMake passes it; __FILE__ may be relative under ccache).
  std::vector<std::filesystem::path> tried;
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) tried.push_back(exe.parent_path().parent_path() / "configs" / "published");
  tried.push_back(std::filesystem::path(YARDSTICK_SOURCE_DIR) / "configs" / "published");
  std::string list;
  for (const auto& dir : tried) {
    if (std::filesystem::is_directory(dir, ec)) return dir;
    list += "\n  " + dir.string();
  }
  throw Error("no configs/published directory found; tried:" + list);
}

std::optional<std::string> PublishedNumbers::benchmark_name(std::string_view task_or_benchmark) const {
  if (auto it = task_benchmarks_.find(lower(task_or_benchmark)); it != task_benchmarks_.end()) return it->second;
  for (const auto& r : records_)
    if (iequals(r.benchmark, task_or_benchmark)) return r.benchmark;
  return std::nullopt;
}

std::vector<const PublishedRecord*> PublishedNumbers::candidates(std::string_view model,
                                                                 std::string_view task_or_benchmark) const {
  std::vector<const PublishedRecord*> out;
  auto benchmark = benchmark_name(task_or_benchmark);
  if (!benchmark) return out;
  for (const auto& r : records_)
    if (iequals(r.model, model) && r.benchmark == *benchmark) out.push_back(&r);
  std::stable_sort(out.begin(), out.end(), [](const PublishedRecord* a, const PublishedRecord* b) {
    auto key = [](const PublishedRecord* r) {
      return std::tuple(r->unit == "unknown", !r->confirmed_primary, source_rank(r->source));
    };
    return key(a) < key(b);
  });
  return out;
}

const PublishedRecord* PublishedNumbers::lookup(std::string_view model, std::string_view task_or_benchmark) const {
  auto all = candidates(model, task_or_benchmark);
  return all.empty() ? nullptr : all.front();
}

std::vector<std::string> PublishedNumbers::models() const {
  std::vector<std::string> out;
  for (const auto& r : records_)
    if (std::find(out.begin(), out.end(), r.model) == out.end()) out.push_back(r.model);
  return out;
}

}  // namespace yardstick
