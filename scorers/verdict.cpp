#include "scorers/verdict.h"

namespace yardstick {

bool is_verdict_status(std::string_view status) {
  using namespace verdict_status;
  return status == kOk || status == kNoAnswer || status == kBadGold || status == kTimeout ||
         status == kError;
}

Verdict bad_gold_verdict(std::string_view scorer, std::string_view gold_text) {
  Verdict v;
  v.scorer = std::string(scorer);
  v.status = std::string(verdict_status::kBadGold);
  v.detail = {{"gold_text", std::string(gold_text.substr(0, 200))}};
  return v;
}

nlohmann::json to_json(const Verdict& v) {
  return {{"scorer", v.scorer},
          {"correct", v.correct},
          {"extracted", v.extracted},
          {"status", v.status},
          {"detail", v.detail.is_null() ? nlohmann::json::object() : v.detail}};
}

}  // namespace yardstick
