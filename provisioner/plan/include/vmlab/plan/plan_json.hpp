#pragma once
// The plan as JSON (`vmlab plan --json`); fields documented in docs/plan-json.md.

#include <nlohmann/json.hpp>

#include "vmlab/plan/plan.hpp"

namespace vmlab {

nlohmann::ordered_json plan_to_json(const Plan& plan);

}  // namespace vmlab
