// ConfigTest: a fixture for config loading tests, with a per-test folder for
// config files and the one-line error message a load gives.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "app/config.h"
#include "policy/error.h"

namespace ponder::testing {

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           fmt::format("ponder_test_config_{}_{}", getpid(), info->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path write(const std::string& name, const std::string& text) {
    std::filesystem::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  // The ponder::Error message loading gives, or a test failure when it loads.
  static std::string error_of(const std::filesystem::path& file,
                              const std::vector<std::string>& overrides = {},
                              const ConfigSchema& schema = config_schema()) {
    try {
      Config::load(file, overrides, schema);
    } catch (const Error& e) {
      std::string message = e.what();
      EXPECT_EQ(message.find('\n'), std::string::npos) << "not one line: " << message;
      return message;
    }
    ADD_FAILURE() << "loaded without error";
    return "";
  }

  // Writes `text` as x.toml and returns the error, with the path shown as "F".
  std::string file_error(const std::string& text) {
    std::filesystem::path path = write("x.toml", text);
    std::string message = error_of(path);
    std::size_t at = message.find(path.string());
    if (at == std::string::npos) return message;
    return message.substr(0, at) + "F" + message.substr(at + path.string().size());
  }

  std::filesystem::path dir_;
};

}  // namespace ponder::testing
