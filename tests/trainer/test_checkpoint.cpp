// Checkpoints in one process: the folder layout and its verification (a flipped byte, a
// truncated file, a missing checksum list), which checkpoint each --resume mode picks, the
// keys a resume may and may not change, and exact resume: a run resumed from its step-6
// checkpoint (copied into a fresh run folder, with and without asynchronous saving) ends with
// parameters bitwise identical to the uninterrupted run. Multi-rank faults (kill -9, SIGTERM,
// ENOSPC, NaN, world-size changes) are tested under mpirun in tests/mpi/resume_*.sh.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "../data/prep_fixture.h"
#include "common/config/resolve.h"
#include "common/file_hash.h"
#include "common/fs.h"
#include "common/sha256.h"
#include "data/prep.h"
#include "data/synth/synth_cohort.h"
#include "trainer/checkpoint/layout.h"
#include "trainer/checkpoint/resume_policy.h"
#include "trainer/checkpoint/state_io.h"
#include "trainer/trainer.h"

namespace clinfm {
namespace {
namespace fs = std::filesystem;

// A fake published checkpoint whose checksum list is right.
void write_fake_checkpoint(const std::string& dir, const std::string& weights = "weights") {
  fs::create_directories(dir);
  std::string listing;
  for (const auto& [name, bytes] : std::vector<std::pair<std::string, std::string>>{
           {"model.pt", weights}, {"state.json", "{}"}, {"config.yaml", "run: {}\n"}}) {
    write_file_atomic(dir + "/" + name, bytes);
    listing += fmt::format("{}  {}\n", sha256_hex(bytes), name);
  }
  write_file_atomic(dir + "/" + kChecksumFile, listing);
}

TEST(CheckpointLayout, NamesAndSteps) {
  EXPECT_EQ(checkpoint_name(100), "step-00000100");
  EXPECT_EQ(parse_checkpoint_name("step-00000100"), 100);
  EXPECT_EQ(parse_checkpoint_name("step-0000010"), -1);
  EXPECT_EQ(parse_checkpoint_name(".tmp-step-00000100"), -1);
  EXPECT_EQ(parse_checkpoint_name("step-0000010x"), -1);
  EXPECT_EQ(rank_file("optimizer", 3), "optimizer-rank-00003.pt");
}

TEST(CheckpointLayout, FastSha256IsSha256) {
  for (const std::string& text : {std::string(), std::string("abc"), std::string(1 << 20, 'x')})
    EXPECT_EQ(fast_sha256_hex(text), sha256_hex(text));
  EXPECT_EQ(fast_sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  testing::TempDir dir;
  const std::string big(9 << 20, 'y');  // more than one 8 MiB read
  write_file_atomic(dir / "f", big);
  EXPECT_EQ(file_sha256_hex(dir / "f"), sha256_hex(big));
  EXPECT_THROW(file_sha256_hex(dir / "missing"), Error);
}

TEST(CheckpointLayout, VerifyFindsEveryKindOfDamage) {
  testing::TempDir dir;
  const std::string ck = dir / "run/checkpoints/step-00000004";
  write_fake_checkpoint(ck, "0123456789");
  EXPECT_EQ(verify_checkpoint(ck), "");

  std::string bytes = read_file(ck + "/model.pt");
  bytes[5] ^= 0x01;
  write_file_atomic(ck + "/model.pt", bytes);
  EXPECT_EQ(verify_checkpoint(ck), "model.pt: checksum mismatch (damaged or truncated)");

  write_file_atomic(ck + "/model.pt", "01234");  // truncated
  EXPECT_NE(verify_checkpoint(ck).find("model.pt: checksum mismatch"), std::string::npos);

  fs::remove(ck + "/model.pt");
  EXPECT_EQ(verify_checkpoint(ck), "model.pt is missing");

  fs::remove(ck + "/" + kChecksumFile);
  EXPECT_NE(verify_checkpoint(ck).find("incomplete checkpoint"), std::string::npos);

  write_file_atomic(ck + "/" + kChecksumFile, "not a checksum line\n");
  EXPECT_EQ(verify_checkpoint(ck), "checksums.sha256 line 1 is malformed");
}

TEST(CheckpointLayout, ResumeModesPickTheNewestValidCheckpoint) {
  testing::TempDir dir;
  const std::string run = dir / "run";
  EXPECT_EQ(choose_checkpoint(run, "none").dir, "");
  EXPECT_EQ(choose_checkpoint(run, "auto").dir, "");  // nothing yet: start fresh
  EXPECT_THROW(choose_checkpoint(run, "latest"), InputError);

  write_fake_checkpoint(run + "/checkpoints/step-00000004");
  write_fake_checkpoint(run + "/checkpoints/step-00000008");
  fs::create_directories(run + "/checkpoints/.tmp-step-00000012");  // a save that never finished
  EXPECT_EQ(fs::path(choose_checkpoint(run, "auto").dir).filename(), "step-00000008");
  EXPECT_EQ(fs::path(choose_checkpoint(run, "latest").dir).filename(), "step-00000008");
  EXPECT_EQ(fs::path(choose_checkpoint(run, run).dir).filename(), "step-00000008");  // a run folder

  write_file_atomic(run + "/checkpoints/step-00000008/model.pt", "damaged");
  const ResumeChoice choice = choose_checkpoint(run, "auto");
  EXPECT_EQ(fs::path(choice.dir).filename(), "step-00000004");
  ASSERT_EQ(choice.warnings.size(), 1u);
  EXPECT_NE(choice.warnings[0].find("step-00000008 is damaged (model.pt: checksum mismatch"),
            std::string::npos);

  try {
    choose_checkpoint(run, run + "/checkpoints/step-00000008");
    FAIL() << "a damaged explicit checkpoint was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("the checkpoint is damaged: model.pt: checksum mismatch"),
              std::string::npos);
  }
  EXPECT_THROW(choose_checkpoint(run, dir / "nowhere"), InputError);

  write_file_atomic(run + "/checkpoints/step-00000004/state.json", "damaged");
  try {
    choose_checkpoint(run, "auto");
    FAIL() << "only damaged checkpoints, yet auto did not refuse";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("every checkpoint under"), std::string::npos) << e.what();
  }
}

// The rng file: the CPU state always; a CUDA state only when the run was on a GPU, read back when
// present; on the CPU a file with a CUDA state restores the CPU stream and ignores the other.
TEST(GeneratorStates, RngFileRoundTripsWithAndWithoutACudaState) {
  const std::string dir = (fs::temp_directory_path() / fmt::format("clinfm_rng_{}", ::getpid())).string();
  fs::create_directories(dir);
  torch::manual_seed(7);
  const GeneratorStates cpu_only = generator_states(torch::kCPU);
  EXPECT_FALSE(cpu_only.cuda.defined());
  const torch::Tensor expected = torch::rand({4});  // the stream after the saved state
  write_file_atomic(dir + "/rng_cpu", generator_states_bytes(cpu_only));
  GeneratorStates with_cuda = cpu_only;
  with_cuda.cuda = torch::arange(16, torch::kUInt8);  // stands for a CUDA generator's state
  write_file_atomic(dir + "/rng_gpu", generator_states_bytes(with_cuda));

  const GeneratorStates read_cpu = read_generator_states_file(dir + "/rng_cpu");
  EXPECT_FALSE(read_cpu.cuda.defined());
  const GeneratorStates read_gpu = read_generator_states_file(dir + "/rng_gpu");
  ASSERT_TRUE(read_gpu.cuda.defined());
  EXPECT_TRUE(torch::equal(read_gpu.cuda, with_cuda.cuda));
  for (const GeneratorStates* states : {&read_cpu, &read_gpu}) {
    torch::manual_seed(99);
    EXPECT_TRUE(set_generator_states(*states, torch::kCPU));
    EXPECT_TRUE(torch::equal(torch::rand({4}), expected));
  }
  // A file written on the CPU, resumed on a GPU: the caller is told to reseed the CUDA stream
  // (only checkable where a GPU exists; the CPU part is restored either way).
  if (torch::cuda::is_available()) {
    EXPECT_FALSE(set_generator_states(read_cpu, torch::Device(torch::kCUDA, 0)));
  }

  write_file_atomic(dir + "/rng_bad", "not an archive");
  try {
    read_generator_states_file(dir + "/rng_bad");
    ADD_FAILURE() << "a damaged rng file was read";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("rng_bad: not a readable generator state file"), std::string::npos)
        << e.what();
  }
  fs::remove_all(dir);
}

TEST(ResumePolicy, ListsRefusedKeysAndAllowsTheResumableOnes) {
  Config before, after;
  before.data.dataset = after.data.dataset = "ds";
  after.train.max_steps = before.train.max_steps + 100;
  after.log.every = 1;
  after.checkpoint.every = 7;
  after.optim.lr = 1e-4;  // the remedy after a divergence
  after.data.dataset = "moved/ds";
  after.run.device = "cuda";  // a CPU checkpoint resumes on a GPU (and back)
  after.train.precision = "bf16";
  EXPECT_NO_THROW(check_resume_compatible(before, after, "ck"));
  after.model.n_layers = 9;
  after.data.seq_len = 512;
  after.train.global_batch_size = 64;
  try {
    check_resume_compatible(before, after, "ck");
    FAIL() << "incompatible change accepted";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("3 config key(s) differ"), std::string::npos) << m;
    EXPECT_NE(m.find("model.n_layers: 0 in the checkpoint, 9 now"), std::string::npos) << m;
    EXPECT_NE(m.find("data.seq_len: 256 in the checkpoint, 512 now"), std::string::npos) << m;
    EXPECT_NE(m.find("train.global_batch_size: 32 in the checkpoint, 64 now"), std::string::npos) << m;
    EXPECT_EQ(m.find("train.max_steps"), std::string::npos) << m;
  }
  EXPECT_TRUE(resumable_key("log.level"));
  EXPECT_FALSE(resumable_key("model.d_model"));
  EXPECT_FALSE(resumable_key("run.seed"));
}

class ExactResume : public ::testing::TestWithParam<bool> {};

std::map<std::string, torch::Tensor> parameters_of(Trainer& t) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : t.model()->named_parameters()) out[p.key()] = p.value().detach().clone();
  return out;
}

TEST_P(ExactResume, ResumedRunIsBitwiseTheUninterruptedRun) {
  const bool async = GetParam();
  testing::TempDir dir;
  testing::prep_synthetic_dataset(dir, 200, 3);
  auto config = [&](const std::string& out) {
    return resolve_config(
        "", {"data.dataset=" + (dir / "ds"), "run.out_dir=" + out, "run.threads=1", "model.preset=tiny",
             "model.n_layers=1", "data.seq_len=32", "train.max_steps=12", "train.global_batch_size=4",
             "train.micro_batch_size=2", "optim.lr=3e-3", "optim.warmup_steps=3", "train.validation_every=0",
             "train.peak_tflops=1", "checkpoint.every=6", fmt::format("checkpoint.async={}", async),
             "model.dropout=0.1"});  // dropout: the generator state matters
  };
  Trainer full(config(dir / "full"));
  full.run();
  ASSERT_TRUE(fs::exists(dir / "full/checkpoints/step-00000006/checksums.sha256"));
  ASSERT_TRUE(fs::exists(dir / "full/checkpoints/step-00000012/checksums.sha256"));
  EXPECT_EQ(read_file(dir / "full/checkpoints/latest"), "step-00000012\n");
  EXPECT_FALSE(fs::exists(dir / "full/checkpoints/.tmp-step-00000012"));
  const CheckpointMeta meta = read_checkpoint_meta(dir / "full/checkpoints/step-00000006");
  EXPECT_EQ(meta.step, 6);
  EXPECT_EQ(meta.consumed_samples, 24);
  EXPECT_EQ(meta.optimizer_updates, 6);

  fs::create_directories(dir / "resumed/checkpoints");
  fs::copy(dir / "full/checkpoints/step-00000006", dir / "resumed/checkpoints/step-00000006",
           fs::copy_options::recursive);
  Trainer resumed(config(dir / "resumed"), "auto");
  EXPECT_EQ(resumed.start_step(), 6);
  resumed.run();
  const auto a = parameters_of(full), b = parameters_of(resumed);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, tensor] : a) EXPECT_TRUE(torch::equal(tensor, b.at(name))) << name;
  // The resumed run's metrics continue the checkpoint's; both runs logged the same losses.
  EXPECT_EQ(read_file(dir / "resumed/checkpoints/step-00000012/model.pt"),
            read_file(dir / "full/checkpoints/step-00000012/model.pt"));
}

INSTANTIATE_TEST_SUITE_P(SyncAndAsync, ExactResume, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "async" : "sync"; });

}  // namespace
}  // namespace clinfm
