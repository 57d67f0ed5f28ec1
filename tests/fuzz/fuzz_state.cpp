// vigild's persisted files (daemon/SupervisionStore.h) on arbitrary bytes: a damaged or
// hostile supervision.json or last-good.json is refused with a reason, never believed in
// part; what is accepted encodes back to a document that decodes to the same state.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "FuzzSupport.h"
#include "daemon/SupervisionStore.h"

using namespace vigil;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const status::Clocks clocks{core::TimePoint(5'000'000'000), 1'764'000'000'000'000};
  const std::string boot = "0123456789abcdef0123456789abcdef";
  if (auto decoded = daemon::decodeSupervisionState(text, boot, clocks)) {
    const std::string again =
        daemon::encodeSupervisionState(decoded->state, decoded->config_digest, boot, clocks);
    auto back = daemon::decodeSupervisionState(again, boot, clocks);
    fuzz::check(back.has_value(), "an encoded state does not decode", again);
    fuzz::check(back->state == decoded->state, "the state does not round-trip", again);
  } else {
    fuzz::check(!decoded.error().message().empty(), "a refusal without a reason");
  }
  if (auto copy = daemon::decodeLastGood(text)) {
    auto back = daemon::decodeLastGood(daemon::encodeLastGood(*copy));
    fuzz::check(back && back->config == copy->config && back->tier == copy->tier,
                "a last good copy does not round-trip");
  }
  return 0;
}
