// Config loading and validation: every bad config gets a one-line message that
// names the place, the key, the value and what was expected.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "app/config.h"
#include "policy/error.h"
#include "tests/app/config_test_util.h"

namespace ponder {
namespace {

using testing::ConfigTest;
namespace fs = std::filesystem;

TEST_F(ConfigTest, SftMaxDifficultyIsALevelOrZero) {
  EXPECT_EQ(file_error("[sft]\nmax_difficulty = -1\n"),
            "`sft.max_difficulty` at F:2: -1 is out of range; expected an integer in [0, 100]");
  EXPECT_EQ(file_error("[sft]\nmax_difficulty = \"hard\"\n"),
            "`sft.max_difficulty` at F:2: expected an integer, got a string (\"hard\")");
  EXPECT_EQ(Config::load("").get_int("sft.max_difficulty"), 0);
  EXPECT_EQ(Config::load("", {"sft.max_difficulty=3"}).get_int("sft.max_difficulty"), 3);
}

TEST_F(ConfigTest, UnknownKeySuggestsTheClosestKey) {
  EXPECT_EQ(file_error("[tokenizer]\nvocab_sise = 5000\n"),
            "unknown key `tokenizer.vocab_sise` at F:2; did you mean `tokenizer.vocab_size`?");
  EXPECT_EQ(file_error("[run]\n\nnmae = \"a\"\n"),
            "unknown key `run.nmae` at F:3; did you mean `run.name`?");
}

TEST_F(ConfigTest, UnknownKeyInTheWrongSectionSuggestsTheRightOne) {
  EXPECT_EQ(file_error("[run]\nvocab_size = 5000\n"),
            "unknown key `run.vocab_size` at F:2; did you mean `tokenizer.vocab_size`?");
}

TEST_F(ConfigTest, UnknownKeyFarFromAnyKeyHasNoSuggestion) {
  EXPECT_EQ(file_error("[run]\nfoo = 1\n"), "unknown key `run.foo` at F:2");
  EXPECT_EQ(file_error("colour = 1\n"), "unknown key `colour` at F:1");
}

TEST_F(ConfigTest, UnknownSectionSuggestsTheClosestSection) {
  EXPECT_EQ(file_error("[run]\nseed = 1\n[tokeniser]\nvocab_size = 5000\n"),
            "unknown section `tokeniser` at F:3; did you mean `tokenizer`?");
  EXPECT_EQ(file_error("[optimizer]\nlr = 1\n"), "unknown section `optimizer` at F:1");
}

TEST_F(ConfigTest, WrongTypeNamesExpectedAndGot) {
  EXPECT_EQ(file_error("[tokenizer]\nvocab_size = \"big\"\n"),
            "`tokenizer.vocab_size` at F:2: expected an integer, got a string (\"big\")");
  EXPECT_EQ(file_error("[tokenizer]\nvocab_size = 4096.0\n"),
            "`tokenizer.vocab_size` at F:2: expected an integer, got a float (4096.0)");
  EXPECT_EQ(file_error("[run]\nname = 7\n"),
            "`run.name` at F:2: expected a string, got an integer (7)");
  EXPECT_EQ(file_error("[tokenizer]\ninputs = \"a.txt\"\n"),
            "`tokenizer.inputs` at F:2: expected a list of strings, got a string (\"a.txt\")");
}

TEST_F(ConfigTest, BoolGivenForInt) {
  EXPECT_EQ(file_error("[run]\nseed = true\n"),
            "`run.seed` at F:2: expected an integer, got a boolean (true)");
}

TEST_F(ConfigTest, ListItemOfWrongTypeIsReportedAtItsLine) {
  EXPECT_EQ(file_error("[tokenizer]\ninputs = [\n  \"a.txt\",\n  5,\n]\n"),
            "`tokenizer.inputs` at F:4: expected a list of strings, got an integer (5)");
}

TEST_F(ConfigTest, OutOfRange) {
  EXPECT_EQ(file_error("[tokenizer]\nvocab_size = 100\n"),
            "`tokenizer.vocab_size` at F:2: 100 is out of range; expected an integer in "
            "[270, 65536]");
  EXPECT_EQ(file_error("[tokenizer]\nmax_input_mb = -0.5\n"),
            "`tokenizer.max_input_mb` at F:2: -0.5 is out of range; expected a number in "
            "[0, 100000]");
}

TEST_F(ConfigTest, OpenBoundsExcludeTheBoundItself) {
  EXPECT_EQ(file_error("[optim]\nlr = 0\n"),
            "`optim.lr` at F:2: 0 is out of range; expected a number in (0, 10]");
  EXPECT_EQ(file_error("[optim]\nbeta1 = 1\n"),
            "`optim.beta1` at F:2: 1 is out of range; expected a number in [0, 1)");
  Config config = Config::load("", {"optim.lr=10", "optim.beta1=0", "optim.beta2=0.999999"});
  EXPECT_EQ(config.get_float("optim.lr"), 10.0);
  EXPECT_EQ(config.get_float("optim.beta1"), 0.0);
}

TEST_F(ConfigTest, NewSectionsRejectBadValues) {
  EXPECT_EQ(file_error("[run]\nthreads = -1\n"),
            "`run.threads` at F:2: -1 is out of range; expected an integer in [0, 1024]");
  EXPECT_EQ(file_error("[model]\nrms_norm_eps = 0.0\n"),
            "`model.rms_norm_eps` at F:2: 0 is out of range; expected a number in (0, 1]");
  EXPECT_EQ(file_error("[model]\ntie_word_embeddings = \"yes\"\n"),
            "`model.tie_word_embeddings` at F:2: expected a boolean, got a string (\"yes\")");
  EXPECT_EQ(file_error("[data]\nval_every = 1\n"),
            "`data.val_every` at F:2: 1 is out of range; expected an integer in [2, 1000000]");
  EXPECT_EQ(file_error("[optim]\nschedule = \"cosin\"\n"),
            "`optim.schedule` at F:2: \"cosin\" is not one of: cosine, linear, constant, wsd; "
            "did you mean \"cosine\"?");
  EXPECT_EQ(file_error("[pretrain]\nbatch_size = 0\n"),
            "`pretrain.batch_size` at F:2: 0 is out of range; expected an integer in [1, 4096]");
}

TEST_F(ConfigTest, NegativeSeed) {
  EXPECT_EQ(file_error("[run]\nseed = -1\n"),
            "`run.seed` at F:2: -1 is out of range; expected an integer >= 0");
}

TEST_F(ConfigTest, IntegerBeyondInt64IsMalformed) {
  EXPECT_EQ(file_error("[run]\nseed = 99999999999999999999\n").rfind("F:2:", 0), 0u);
}

TEST_F(ConfigTest, NonFiniteFloat) {
  EXPECT_EQ(file_error("[tokenizer]\nmax_input_mb = inf\n"),
            "`tokenizer.max_input_mb` at F:2: expected a finite number, got inf");
  EXPECT_EQ(file_error("[tokenizer]\nmax_input_mb = nan\n"),
            "`tokenizer.max_input_mb` at F:2: expected a finite number, got nan");
}

TEST_F(ConfigTest, BadChoiceSuggestsTheClosestChoice) {
  EXPECT_EQ(file_error("[run]\nstages = [\"tokenise\"]\n"),
            "`run.stages` at F:2: \"tokenise\" is not one of: tokenizer, shards, corpus, "
            "pretrain, sft, rl, eval; did you mean \"tokenizer\"?");
  EXPECT_EQ(file_error("[run]\nstages = [\"tokenizer\", \"dpo\"]\n"),
            "`run.stages` at F:2: \"dpo\" is not one of: tokenizer, shards, corpus, pretrain, "
            "sft, rl, eval");
}

TEST_F(ConfigTest, EmptyListWhereItemsAreRequired) {
  EXPECT_EQ(file_error("[tokenizer]\ninputs = []\n"),
            "`tokenizer.inputs` at F:2: expected a list of at least 1 string, got an empty list");
}

TEST_F(ConfigTest, StringRule) {
  EXPECT_EQ(file_error("[run]\nname = \"my run\"\n"),
            "`run.name` at F:2: \"my run\" is not allowed; expected a non-empty string of "
            "letters, digits, '_', '.' and '-', not starting with '.'");
  EXPECT_EQ(
      file_error("[run]\nname = \"..\"\n").rfind("`run.name` at F:2: \"..\" is not allowed", 0),
      0u);
}

TEST_F(ConfigTest, LongOrMultiLineValuesAreShownOnOneShortLine) {
  std::string message =
      file_error("[run]\nname = \"\"\"\nline one\nline two " + std::string(100, 'x') + "\"\"\"\n");
  EXPECT_EQ(message.rfind("`run.name` at F:2: \"line one\\nline two xxx", 0), 0u) << message;
  EXPECT_LT(message.size(), 250u);
}

TEST_F(ConfigTest, MalformedTomlGivesLineAndColumn) {
  std::string message = file_error("[run]\nseed = 1\nname = \"unterminated\n");
  EXPECT_EQ(message.rfind("F:3:", 0), 0u) << message;
  EXPECT_NE(message.find(": malformed TOML: "), std::string::npos) << message;
  EXPECT_EQ(file_error("[run]\nseed = 1\nseed = 2\n").rfind("F:3:", 0), 0u);
}

TEST_F(ConfigTest, ValueWhereASectionIsExpectedAndViceVersa) {
  EXPECT_EQ(file_error("tokenizer = 5\n"),
            "`tokenizer` at F:1: expected a section ([tokenizer]), got an integer (5)");
  EXPECT_EQ(file_error("[run.name]\nfirst = \"a\"\n"),
            "`run.name` at F:1: expected a string, got a table");
}

TEST_F(ConfigTest, MissingFile) {
  fs::path path = dir_ / "nope.toml";
  EXPECT_EQ(error_of(path), fmt::format("config file `{}` not found", path.string()));
}

TEST_F(ConfigTest, DirectoryInsteadOfFile) {
  EXPECT_EQ(error_of(dir_),
            fmt::format("config file `{}` is a directory, not a file", dir_.string()));
}

TEST_F(ConfigTest, UnreadableFile) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads any file";
  fs::path path = write("locked.toml", "[run]\n");
  fs::permissions(path, fs::perms::none);
  EXPECT_EQ(error_of(path),
            fmt::format("config file `{}` cannot be read: Permission denied", path.string()));
}

TEST_F(ConfigTest, BadOverrides) {
  EXPECT_EQ(error_of("", {"tokenizer.vocab_size=abc"}),
            "--set tokenizer.vocab_size=abc: expected an integer, got a string (\"abc\")");
  EXPECT_EQ(error_of("", {"tokenizer.vocab_size"}),
            "--set tokenizer.vocab_size: expected section.key=value");
  EXPECT_EQ(error_of("", {"tokenizer.vocab=5000"}),
            "--set tokenizer.vocab=5000: unknown key `tokenizer.vocab`; did you mean "
            "`tokenizer.vocab_size`?");
  EXPECT_EQ(error_of("", {"tokenizer=5"}),
            "--set tokenizer=5: `tokenizer` is a section; expected section.key=value");
  EXPECT_EQ(error_of("", {"tokenizer.vocab_size=10"}),
            "--set tokenizer.vocab_size=10: 10 is out of range; expected an integer in "
            "[270, 65536]");
  EXPECT_EQ(error_of("", {"run.stages=tokeniser"}),
            "--set run.stages=tokeniser: \"tokeniser\" is not one of: tokenizer, shards, "
            "corpus, pretrain, sft, rl, eval; did you mean \"tokenizer\"?");
  EXPECT_EQ(error_of("", {"run.name="}),
            "--set run.name=: the value is missing; for an empty string write run.name=\"\" "
            "(quoted for the shell)");
  EXPECT_EQ(error_of("", {"run.name=\"unterminated"})
                .rfind("--set run.name=\"unterminated: malformed TOML value: ", 0),
            0u);
}

TEST_F(ConfigTest, DefaultsOnly) {
  Config config = Config::load("");
  EXPECT_TRUE(config.source().empty());
  EXPECT_EQ(config.get_string("run.name"), "quickstart");
  EXPECT_EQ(config.get_string("run.out_dir"), "runs/out");
  EXPECT_EQ(config.get_int("run.seed"), 1234);
  EXPECT_EQ(config.get_strings("run.stages"), std::vector<std::string>{"tokenizer"});
  EXPECT_EQ(config.get_strings("tokenizer.inputs"),
            std::vector<std::string>{"data/gsm8k/train.jsonl"});
  EXPECT_EQ(config.get_int("tokenizer.vocab_size"), 4096);
  EXPECT_EQ(config.get_int("tokenizer.digits_per_token"), 1);
  EXPECT_EQ(config.get_string("tokenizer.pattern"), "");
  EXPECT_EQ(config.get_float("tokenizer.max_input_mb"), 0.0);
  EXPECT_EQ(config.get_int("run.threads"), 0);
  EXPECT_EQ(config.get_int("model.hidden_size"), 256);
  EXPECT_FALSE(config.get_bool("model.tie_word_embeddings"));
  EXPECT_EQ(config.get_float("model.rms_norm_eps"), 1e-5);
  EXPECT_EQ(config.get_int("data.tokens_per_shard"), 10000000);
  EXPECT_EQ(config.get_float("optim.lr"), 3e-3);
  EXPECT_EQ(config.get_string("optim.schedule"), "cosine");
  EXPECT_EQ(config.get_int("pretrain.steps"), 600);
}

TEST_F(ConfigTest, OverridesApplyAfterTheFileAndTheLastWins) {
  fs::path path = write("x.toml",
                        "[run]\nname = \"from-file\"\nseed = 7\n\n[tokenizer]\n"
                        "vocab_size = 1000\n");
  Config config = Config::load(path, {"tokenizer.vocab_size=2000", "tokenizer.vocab_size=3000",
                                      "run.name=my-run.2", "tokenizer.inputs=data/a.txt",
                                      "tokenizer.max_input_mb=5", "tokenizer.pattern = '\\d+'"});
  EXPECT_EQ(config.source(), path);
  EXPECT_EQ(config.get_int("run.seed"), 7);  // from the file
  EXPECT_EQ(config.get_int("tokenizer.vocab_size"), 3000);
  EXPECT_EQ(config.get_string("run.name"), "my-run.2");  // a bare word
  EXPECT_EQ(config.get_strings("tokenizer.inputs"), std::vector<std::string>{"data/a.txt"});
  EXPECT_EQ(config.get_float("tokenizer.max_input_mb"), 5.0);  // an integer for a number
  EXPECT_EQ(config.get_string("tokenizer.pattern"), "\\d+");

  Config lists = Config::load("", {"tokenizer.inputs=[\"a b.txt\", \"c.jsonl\"]",
                                   "tokenizer.sample=\"quoted \\\"text\\\"\""});
  EXPECT_EQ(lists.get_strings("tokenizer.inputs"),
            (std::vector<std::string>{"a b.txt", "c.jsonl"}));
  EXPECT_EQ(lists.get_string("tokenizer.sample"), "quoted \"text\"");
}

TEST_F(ConfigTest, ToTomlReloadsToAnEqualConfig) {
  Config config =
      Config::load("", {"run.name=odd_name-1", "run.seed=0", "tokenizer.max_input_mb=0.1",
                        "tokenizer.inputs=[\"a\\\"b.txt\", \"c\\\\d\", \"ü €\"]",
                        "tokenizer.sample=\"tab\\there\\nnewline \\u0001 \\\\ done\""});
  EXPECT_FALSE(config == Config::load(""));
  std::string text = config.to_toml();
  Config reloaded = Config::load(write("resolved.toml", text));
  EXPECT_TRUE(reloaded == config) << text;
  EXPECT_EQ(reloaded.to_toml(), text);
  EXPECT_EQ(reloaded.get_float("tokenizer.max_input_mb"), 0.1);
}

TEST_F(ConfigTest, ToTomlListsEveryKeyInSchemaOrder) {
  // The first lines are spelled out; the rest must follow the schema's order:
  // each section header, then its keys with their defaults.
  const std::string toml = Config::load("").to_toml();
  EXPECT_EQ(toml.substr(0, toml.find("\n\n")),
            "[run]\n"
            "name = \"quickstart\"\n"
            "out_dir = \"runs/out\"\n"
            "seed = 1234\n"
            "stages = [\"tokenizer\"]\n"
            "threads = 0\n"
            "device = \"auto\"\n"
            "precision = \"bf16\"\n"
            "check_every = 0\n"
            "grad_bucket_mb = 25");
  size_t at = 0;
  std::string section;
  for (const auto& key : config_schema().keys) {
    if (key.section() != section) {
      section = key.section();
      const size_t header = toml.find("[" + section + "]\n", at);
      ASSERT_NE(header, std::string::npos) << section;
      at = header;
    }
    std::string value = toml_literal(key.default_value);
    if (const auto* tables = std::get_if<TableList>(&key.default_value)) {
      value = "[\n";  // one table per line
      for (const std::string& entry : tables->entries_toml()) value += "  " + entry + ",\n";
      value += "]";
    }
    const std::string line = "\n" + std::string(key.leaf()) + " = " + value + "\n";
    const size_t found = toml.find(line, at);
    ASSERT_NE(found, std::string::npos) << key.name;
    at = found + 1;
  }
}

TEST_F(ConfigTest, GetterMisuseIsALogicError) {
  Config config = Config::load("");
  EXPECT_THROW(config.get_int("run.name"), std::logic_error);
  EXPECT_THROW(config.get_string("run.stages"), std::logic_error);
  EXPECT_THROW(config.get_int("run.nope"), std::logic_error);
}

// A schema of every type, including those ponder's own schema has no key of yet.
ConfigSchema every_type_schema() {
  return {
      .sections = {{"a", "a section"}, {"a.sub", "a subsection"}},
      .keys =
          {
              bool_key("a.flag", false, "a flag"),
              enum_key("a.mode", "fast", {"fast", "careful"}, "a mode"),
              float_key("a.sub.ratio", 0.5, std::nullopt, 1.0, "a ratio"),
              float_key_above("a.sub.positive", 1.0, 0.0, std::nullopt, "a positive number"),
              float_key_below("a.sub.negative", -1.0, std::nullopt, 0.0, "a negative number"),
          },
  };
}

TEST_F(ConfigTest, BoolEnumAndSubsections) {
  ConfigSchema schema = every_type_schema();
  fs::path path = write("x.toml", "[a]\nflag = true\nmode = \"careful\"\n[a.sub]\nratio = -3\n");
  Config config = Config::load(path, {}, schema);
  EXPECT_TRUE(config.get_bool("a.flag"));
  EXPECT_EQ(config.get_string("a.mode"), "careful");
  EXPECT_EQ(config.get_float("a.sub.ratio"), -3.0);
  EXPECT_EQ(config.to_toml(),
            "[a]\nflag = true\nmode = \"careful\"\n\n[a.sub]\nratio = -3.0\npositive = 1.0\n"
            "negative = -1.0\n");
  EXPECT_TRUE(Config::load(write("y.toml", config.to_toml()), {}, schema) == config);

  EXPECT_EQ(error_of("", {"a.flag=1"}, schema),
            "--set a.flag=1: expected a boolean, got an integer (1)");
  EXPECT_EQ(error_of("", {"a.mode=carefull"}, schema),
            "--set a.mode=carefull: \"carefull\" is not one of: fast, careful; did you mean "
            "\"careful\"?");
  EXPECT_EQ(error_of("", {"a.sub.ratio=1.5"}, schema),
            "--set a.sub.ratio=1.5: 1.5 is out of range; expected a number <= 1");
  EXPECT_EQ(error_of("", {"a.sub.positive=0"}, schema),
            "--set a.sub.positive=0: 0 is out of range; expected a number > 0");
  EXPECT_EQ(error_of("", {"a.sub.negative=0"}, schema),
            "--set a.sub.negative=0: 0 is out of range; expected a number < 0");
  EXPECT_EQ(
      error_of(write("z.toml", "[a.sbu]\nratio = 1\n"), {}, schema).find("unknown section `a.sbu`"),
      0u);
}

TEST_F(ConfigTest, BrokenSchemaIsALogicError) {
  ConfigSchema bad_default = every_type_schema();
  bad_default.keys.push_back(int_key("a.count", -1, 0, std::nullopt, "a count"));
  EXPECT_THROW(Config::load("", {}, bad_default), std::logic_error);

  ConfigSchema unlisted_section = every_type_schema();
  unlisted_section.keys.push_back(bool_key("b.flag", true, "a flag"));
  EXPECT_THROW(Config::load("", {}, unlisted_section), std::logic_error);

  ConfigSchema duplicate = every_type_schema();
  duplicate.keys.push_back(bool_key("a.flag", true, "a flag"));
  EXPECT_THROW(Config::load("", {}, duplicate), std::logic_error);
}

TEST(ConfigDocs, CommittedReferenceIsUpToDate) {
  std::ifstream in(PONDER_SOURCE_DIR "/docs/CONFIG.md", std::ios::binary);
  std::ostringstream committed;
  committed << in.rdbuf();
  EXPECT_TRUE(committed.str() == config_reference_markdown())
      << "docs/CONFIG.md differs from the schema in app/config_schema.cc; regenerate it with "
         "`build/ponder config docs > docs/CONFIG.md`";
}

}  // namespace
}  // namespace ponder
