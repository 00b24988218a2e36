#include "scorers/verdict.h"

namespace yardstick {

bool is_verdict_status(std::string_view status) {
  using namespace verdict_status;
  return status == kOk || status == kNoAnswer || status == kBadGold || status == kTimeout ||
         status == kError;
}

nlohmann::json to_json(const Verdict& v) {
  return {{"scorer", v.scorer},
          {"correct", v.correct},
          {"extracted", v.extracted},
          {"status", v.status},
          {"detail", v.detail.is_null() ? nlohmann::json::object() : v.detail}};
}

}  // namespace yardstick
