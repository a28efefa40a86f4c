// libFuzzer target: any bytes given to the lab loader must give diagnostics or a lab — never a
// crash, a leak, undefined behaviour or a hang. A lab that loads is planned and printed as JSON
// too, so the planner is held to what the loader accepts.
//
//   scripts/fuzz [SECONDS]       build with clang and run (see tests/fuzz/CMakeLists.txt)

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "vmlab/lab/loader.hpp"
#include "vmlab/plan/plan.hpp"
#include "vmlab/plan/plan_json.hpp"

namespace {

// The input poses as a file in labs/, so `template = "tiny"` etc. find the repository's templates.
constexpr const char* lab_path = VMLAB_SOURCE_DIR "/labs/fuzz-input.toml";

// Planning is linear in seats x VMs x NICs; a 10000-seat lab is valid but would only slow the
// fuzzer down without reaching new code.
constexpr std::uint64_t max_planned_objects = 20000;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const vmlab::LoadResult result = vmlab::load_lab_text(text, lab_path);
    if (!result.lab) return 0;
    std::uint64_t objects = 1;
    for (const auto& vm : result.lab->vms) objects += 1 + vm.nics.size() + vm.extra_disks.size();
    objects = (objects + result.lab->networks.size()) * result.lab->seats;
    if (objects > max_planned_objects) return 0;
    const vmlab::Plan plan = vmlab::make_plan(*result.lab);
    const std::string json = vmlab::plan_to_json(plan).dump();
    return json.empty() ? -1 : 0;
}
