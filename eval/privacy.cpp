#include "eval/privacy.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace clinfm {
namespace {

double median(std::vector<double> values) { return values.empty() ? 0.0 : percentile(values, 50.0); }

MetricSummary membership_auc(const std::vector<const MembershipRow*>& rows,
                             const BootstrapOptions& bootstrap) {
  std::vector<int> y;
  std::vector<double> score;
  std::vector<uint64_t> cluster;
  for (const MembershipRow* row : rows) {
    y.push_back(row->member);
    score.push_back(-row->loss);  // the attack: lower loss, more likely a member
    cluster.push_back(row->key);
  }
  return summarize_metrics(y, score, cluster, bootstrap);
}

nlohmann::json interval_json(const MetricSummary& m) {
  nlohmann::json out = {{"n", m.n}, {"members", m.n_positive}, {"reported", m.reported}};
  if (m.reported)
    out["auroc"] = {{"point", m.auroc.point}, {"lo", m.auroc.lo}, {"hi", m.auroc.hi}};
  else
    out["reason"] = m.reason;
  return out;
}

}  // namespace

std::vector<double> canary_exposures(const std::vector<double>& canary_loss,
                                     const std::vector<double>& reference_loss) {
  std::vector<double> sorted = reference_loss;
  std::sort(sorted.begin(), sorted.end());
  const double top = max_exposure(static_cast<int64_t>(sorted.size()));
  std::vector<double> out;
  for (double loss : canary_loss) {
    const auto below = std::lower_bound(sorted.begin(), sorted.end(), loss) - sorted.begin();
    const auto equal = std::upper_bound(sorted.begin(), sorted.end(), loss) - sorted.begin() - below;
    const double rank = 1.0 + double(below) + 0.5 * double(equal);
    out.push_back(top - std::log2(rank));
  }
  return out;
}

double max_exposure(int64_t references) { return std::log2(double(references) + 1.0); }

double null_mean_exposure(int64_t references) {
  const double n = double(references) + 1.0;
  return std::log2(n) - std::lgamma(n + 1.0) / std::log(2.0) / n;
}

void score_membership(const std::vector<MembershipRow>& rows, const BootstrapOptions& overall_bootstrap,
                      PrivacyResult& result) {
  BootstrapOptions bootstrap = overall_bootstrap;  // a bucket of a handful of patients says nothing
  bootstrap.min_patients = std::max<int64_t>(bootstrap.min_patients, 20);
  result.membership_measured = true;
  std::vector<const MembershipRow*> all;
  for (const MembershipRow& row : rows) {
    all.push_back(&row);
    (row.member ? result.member_loss : result.nonmember_loss).push_back(row.loss);
  }
  result.membership = membership_auc(all, overall_bootstrap);
  {
    std::vector<int> y;
    std::vector<double> length;
    std::vector<uint64_t> cluster;
    for (const MembershipRow* row : all) {
      y.push_back(row->member);
      length.push_back(double(row->events));
      cluster.push_back(row->key);
    }
    result.length_balance = summarize_metrics(y, length, cluster, overall_bootstrap);
  }
  const std::vector<std::pair<int64_t, int64_t>> lengths = {{0, 16}, {16, 64}, {64, 256}, {256, INT64_MAX}};
  for (const auto& [lo, hi] : lengths) {
    std::vector<const MembershipRow*> bucket;
    for (const MembershipRow* row : all)
      if (row->events >= lo && row->events < hi) bucket.push_back(row);
    if (bucket.empty()) continue;
    const std::string name = hi == INT64_MAX ? fmt::format("timelines of {}+ events", lo)
                                             : fmt::format("timelines of {}-{} events", lo, hi - 1);
    result.by_length.push_back({name, membership_auc(bucket, bootstrap)});
  }
  std::vector<int64_t> rarity;
  for (const MembershipRow* row : all) rarity.push_back(row->rarest_code_patients);
  std::sort(rarity.begin(), rarity.end());
  if (rarity.empty()) return;
  const int64_t cut1 = rarity[rarity.size() / 3], cut2 = rarity[2 * rarity.size() / 3];
  const std::vector<std::pair<int64_t, int64_t>> thirds = {
      {INT64_MIN, cut1}, {cut1, cut2}, {cut2, INT64_MAX}};
  for (const auto& [lo, hi] : thirds) {
    std::vector<const MembershipRow*> bucket;
    for (const MembershipRow* row : all)
      if (row->rarest_code_patients > lo && row->rarest_code_patients <= hi) bucket.push_back(row);
    if (bucket.empty()) continue;
    const std::string name = lo == INT64_MIN ? fmt::format("rarest code in <= {} training patients", hi)
                             : hi == INT64_MAX
                                 ? fmt::format("rarest code in > {} training patients", lo)
                                 : fmt::format("rarest code in {}-{} training patients", lo + 1, hi);
    result.by_rarity.push_back({name, membership_auc(bucket, bootstrap)});
  }
}

void score_canaries(const std::vector<double>& canary_loss, const std::vector<double>& reference_loss,
                    PrivacyResult& result) {
  result.canaries_measured = true;
  result.references = static_cast<int64_t>(reference_loss.size());
  result.exposure = canary_exposures(canary_loss, reference_loss);
  result.exposure_max = max_exposure(result.references);
  result.exposure_null_mean = null_mean_exposure(result.references);
}

void describe_privacy(PrivacyResult& result) {
  result.findings.clear();
  if (result.membership_measured) {
    const MetricSummary& m = result.membership;
    if (!m.reported) {
      result.findings.push_back(fmt::format("membership inference not measured: {}", m.reason));
    } else if (m.auroc.hi < 0.5) {
      result.findings.push_back(fmt::format(
          "no evidence of membership leakage: the loss is lower on held-out than on training patients, AUC "
          "{:.3f} ({:.3f}-{:.3f}) below 0.5: the two samples differ beyond training (n={} patients)",
          m.auroc.point, m.auroc.lo, m.auroc.hi, m.n));
    } else if (m.auroc.lo > 0.5) {
      result.findings.push_back(fmt::format(
          "membership leakage: the model's loss tells training patients from held-out ones with AUC {:.3f} "
          "({:.3f}-{:.3f}), above 0.5 (n={} patients)",
          m.auroc.point, m.auroc.lo, m.auroc.hi, m.n));
    } else {
      result.findings.push_back(fmt::format(
          "no measurable membership leakage at this sample size: AUC {:.3f} ({:.3f}-{:.3f}), n={} patients",
          m.auroc.point, m.auroc.lo, m.auroc.hi, m.n));
    }
  }
  const MetricSummary& b = result.length_balance;
  if (result.membership_measured && b.reported && (b.auroc.lo > 0.5 || b.auroc.hi < 0.5))
    result.findings.push_back(fmt::format(
        "the two samples differ: training patients' timelines are {} (AUC of length {:.3f}, {:.3f}-{:.3f}), "
        "which moves the membership AUC without any training; compare with a reference model "
        "(docs/privacy.md)",
        b.auroc.point > 0.5 ? "longer" : "shorter", b.auroc.point, b.auroc.lo, b.auroc.hi));
  if (result.canaries_measured && !result.exposure.empty()) {
    const double med = median(result.exposure);
    const double top = *std::max_element(result.exposure.begin(), result.exposure.end());
    const auto at_max = std::count_if(result.exposure.begin(), result.exposure.end(),
                                      [&](double e) { return e >= result.exposure_max - 1e-9; });
    result.findings.push_back(fmt::format(
        "canary exposure: median {:.2f} bits, highest {:.2f} of at most {:.2f} ({} of {} canaries likelier "
        "than "
        "every reference); a model that never saw them averages {:.2f}",
        med, top, result.exposure_max, at_max, result.exposure.size(), result.exposure_null_mean));
  }
}

nlohmann::json privacy_to_json(const PrivacyResult& r) {
  nlohmann::json out = {{"findings", r.findings}, {"notes", r.notes}};
  if (r.membership_measured) {
    nlohmann::json length = nlohmann::json::array(), rarity = nlohmann::json::array();
    for (const auto& b : r.by_length)
      length.push_back({{"bucket", b.name}, {"membership", interval_json(b.auc)}});
    for (const auto& b : r.by_rarity)
      rarity.push_back({{"bucket", b.name}, {"membership", interval_json(b.auc)}});
    out["membership"] = {{"attack", "loss threshold: lower mean next-event loss = member"},
                         {"overall", interval_json(r.membership)},
                         {"length_balance", interval_json(r.length_balance)},
                         {"by_length", length},
                         {"by_rarity", rarity},
                         {"member_loss_median", median(r.member_loss)},
                         {"nonmember_loss_median", median(r.nonmember_loss)}};
  }
  if (r.canaries_measured) {
    out["canaries"] = {{"inserted", r.canaries},
                       {"copies", r.canary_copies},
                       {"events", r.canary_events},
                       {"references", r.references},
                       {"exposure_bits", r.exposure},
                       {"exposure_median", median(r.exposure)},
                       {"exposure_max_possible", r.exposure_max},
                       {"exposure_null_mean", r.exposure_null_mean}};
  }
  return out;
}

}  // namespace clinfm
