#include "eval/privacy_runner.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <unordered_set>

#include "common/error.h"
#include "common/log.h"
#include "eval/sequence_loss.h"

namespace clinfm {
namespace {

// Up to `limit` patients with at least two events (one prediction), a seeded sample, never a canary.
std::vector<const PatientTimeline*> sample_patients(const std::vector<PatientTimeline>& split, int64_t limit,
                                                    uint64_t seed,
                                                    const std::unordered_set<uint64_t>& excluded) {
  std::vector<const PatientTimeline*> eligible;
  for (const auto& p : split)
    if (p.size() >= 2 && !excluded.count(p.key)) eligible.push_back(&p);
  std::mt19937_64 rng(seed);
  std::shuffle(eligible.begin(), eligible.end(), rng);
  if (limit > 0 && int64_t(eligible.size()) > limit) eligible.resize(size_t(limit));
  return eligible;
}

int64_t rarest_code_patients(const PatientTimeline& p, const Vocabulary& vocab) {
  int64_t rarest = INT64_MAX;
  for (int32_t token : p.tokens) {
    const int64_t n = vocab.token(token).train_patients;
    if (n > 0) rarest = std::min(rarest, n);  // specials and <unk> have no count
  }
  return rarest == INT64_MAX ? 0 : rarest;
}

}  // namespace

CanarySet load_checked_canaries(const std::string& path, const Dataset& dataset) {
  if (path.empty()) return {};
  CanarySet canaries = read_canary_file(path);
  const std::string salt_id =
      dataset.manifest().value("/deidentification/salt_id"_json_pointer, std::string());
  if (canaries.salt_id != salt_id)
    throw InputError(
        fmt::format("canary file {} was drawn with salt {}, the data set {} is keyed with salt {}", path,
                    canaries.salt_id, dataset.dir(), salt_id),
        "pass the canary file that `clinfm prep` wrote for this data set");
  if (canaries.vocab_sha256 != dataset.vocab_sha256())
    throw InputError(
        fmt::format("canary file {} belongs to another data set (vocabulary sha256 {} is not {}'s {})", path,
                    canaries.vocab_sha256.substr(0, 12), dataset.dir(), dataset.vocab_sha256().substr(0, 12)),
        "pass the canary file that `clinfm prep` wrote for this data set");
  for (const auto* group : {&canaries.inserted, &canaries.reference})
    for (const Canary& c : *group)
      for (int32_t token : c.tokens)
        if (token < 0 || token >= dataset.vocab().size())
          throw InputError(fmt::format("canary file {}: token {} is outside the vocabulary", path, token),
                           "the canary file is damaged: prep the data set again");
  return canaries;
}

PrivacyResult run_privacy_audit(ClinicalTransformer& model, const PrivacyInputs& in,
                                const CanarySet& canaries) {
  PrivacyResult result;
  SequenceLossOptions options;
  options.context_events = in.suite.context_events;
  std::unordered_set<uint64_t> canary_keys;
  for (const Canary& c : canaries.inserted) canary_keys.insert(c.keys.begin(), c.keys.end());

  // Membership: train patients (members) against held_out (non-members).
  const uint64_t seed = uint64_t(in.suite.seed) * 0x9E3779B97F4A7C15ULL + 71;
  const auto members = sample_patients(in.train, in.suite.privacy.max_patients, seed, canary_keys);
  const auto others = sample_patients(in.held_out, in.suite.privacy.max_patients, seed + 1, canary_keys);
  if (canaries.inserted.empty() && in.dataset.manifest().value("/privacy_audit/canaries"_json_pointer, 0) > 0)
    result.notes.push_back(
        "the data set holds canaries but no --canaries file was given: a few members sampled "
        "may be canaries, and exposure is not measured");
  std::vector<const PatientTimeline*> sequences(members);
  sequences.insert(sequences.end(), others.begin(), others.end());
  log_info("privacy: membership inference on {} train and {} held_out patients", members.size(),
           others.size());
  const std::vector<SequenceLoss> losses = sequence_losses(model, sequences, {}, options);
  std::vector<MembershipRow> rows;
  for (size_t i = 0; i < sequences.size(); ++i) {
    MembershipRow row;
    row.key = sequences[i]->key;
    row.member = i < members.size() ? 1 : 0;
    row.loss = losses[i].mean();
    row.events = static_cast<int64_t>(sequences[i]->size());
    row.rarest_code_patients = rarest_code_patients(*sequences[i], in.dataset.vocab());
    rows.push_back(row);
  }
  BootstrapOptions bootstrap;
  bootstrap.samples = in.config.bootstrap_samples;
  bootstrap.seed = uint64_t(in.config.bootstrap_seed) ^ 0x5052495641435955ULL;  // "PRIVACY"
  score_membership(rows, bootstrap, result);

  // Canaries: the secret events' loss, inserted against references.
  if (!canaries.inserted.empty()) {
    std::vector<PatientTimeline> timelines;
    std::vector<int64_t> begin;
    for (const auto* group : {&canaries.inserted, &canaries.reference})
      for (const Canary& c : *group) {
        timelines.push_back(c.timeline(0));
        begin.push_back(c.secret_begin);
      }
    std::vector<const PatientTimeline*> pointers;
    for (const auto& t : timelines) pointers.push_back(&t);
    log_info("privacy: exposure of {} canaries among {} references", canaries.inserted.size(),
             canaries.reference.size());
    const std::vector<SequenceLoss> canary_losses = sequence_losses(model, pointers, begin, options);
    std::vector<double> inserted, reference;
    for (size_t i = 0; i < canary_losses.size(); ++i)
      (i < canaries.inserted.size() ? inserted : reference).push_back(canary_losses[i].nll);
    score_canaries(inserted, reference, result);
    result.canaries = static_cast<int64_t>(canaries.inserted.size());
    result.canary_copies = canaries.copies;
    result.canary_events = canaries.events;
  }
  describe_privacy(result);
  for (const std::string& line : result.findings) log_info("privacy: {}", line);
  return result;
}

}  // namespace clinfm
