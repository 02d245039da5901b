#include "dataplane/drop_reasons.hpp"

namespace eg::dp {

namespace {
constexpr std::string_view k_stages[] = {
#define EG_X(name, stage, text) stage,
    EG_DROP_REASONS(EG_X)
#undef EG_X
};
constexpr std::string_view k_texts[] = {
#define EG_X(name, stage, text) text,
    EG_DROP_REASONS(EG_X)
#undef EG_X
};
}  // namespace

std::string_view drop_stage(drop_reason r) { return k_stages[reason_index(r)]; }
std::string_view drop_text(drop_reason r) { return k_texts[reason_index(r)]; }

}  // namespace eg::dp
