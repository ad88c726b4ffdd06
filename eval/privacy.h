// The privacy audit of a trained model (docs/privacy.md), from per-sequence losses the model
// computed (eval/sequence_loss.h); plain C++, no model here.
//   Canary exposure (Carlini et al. 2019, "The Secret Sharer"): a canary inserted into training
//   is ranked by its loss among R reference canaries drawn the same way but never trained on;
//   exposure = log2(R + 1) - log2(rank), rank 1 = more likely than every reference. The maximum
//   is log2(R + 1); a model that never saw the canary gives a uniform rank, whose mean exposure
//   is log2(R + 1) - log2((R + 1)!) / (R + 1), about 1/ln 2 = 1.44 bits for large R.
//   Membership inference (a loss-threshold attack, Yeom et al. 2018): the AUROC of telling
//   training patients from held_out patients by the model's mean next-event loss on their
//   timelines, lower loss = member; 0.5 means the loss reveals nothing. Patient-level bootstrap
//   interval (one row per patient), and the same per timeline-length and code-rarity bucket.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "eval/metrics.h"

namespace clinfm {

// Exposure in bits of each canary given its loss and the references' (lower loss = likelier).
// A reference with the same loss counts one half.
std::vector<double> canary_exposures(const std::vector<double>& canary_loss,
                                     const std::vector<double>& reference_loss);
// log2(R + 1): the exposure of a canary likelier than all R references.
double max_exposure(int64_t references);
// The mean exposure of a canary whose rank is uniform (a model that never saw it).
double null_mean_exposure(int64_t references);

struct MembershipRow {
  uint64_t key = 0;
  int member = 0;                    // 1: train split (trained on), 0: held_out
  double loss = 0;                   // mean next-event loss (nats per predicted event)
  int64_t events = 0;                // events in the timeline
  int64_t rarest_code_patients = 0;  // training patients of the patient's rarest token
};

struct PrivacyBucket {
  std::string name;  // "events 16-63", "rarest code in <= 25 training patients"
  MetricSummary auc;
};

struct PrivacyResult {
  bool membership_measured = false;
  MetricSummary membership;  // AUROC of -loss for members vs held_out
  // AUROC of the timeline length for members vs held_out: 0.5 when the two samples are alike.
  // The loss depends on the length, so a chance difference (small samples) moves the attack's
  // AUROC without any training; a reference model (docs/privacy.md) shows how much.
  MetricSummary length_balance;
  std::vector<PrivacyBucket> by_length, by_rarity;
  std::vector<double> member_loss, nonmember_loss;
  bool canaries_measured = false;
  int64_t canaries = 0, canary_copies = 0, references = 0, canary_events = 0;
  std::vector<double> exposure;  // per inserted canary
  double exposure_max = 0, exposure_null_mean = 0;
  std::vector<std::string> findings;  // plain-language lines for the report
  std::vector<std::string> notes;
};

// Membership AUROC overall and per bucket. Buckets: timeline length in events (<16, 16-63,
// 64-255, >=256) and thirds of the rarest-code count. `bootstrap` as for the tasks.
void score_membership(const std::vector<MembershipRow>& rows, const BootstrapOptions& bootstrap,
                      PrivacyResult& result);
void score_canaries(const std::vector<double>& canary_loss, const std::vector<double>& reference_loss,
                    PrivacyResult& result);
// The plain-language lines (result.findings) from what was measured.
void describe_privacy(PrivacyResult& result);
nlohmann::json privacy_to_json(const PrivacyResult& result);

}  // namespace clinfm
