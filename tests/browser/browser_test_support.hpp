#pragma once
// GoogleTest glue for the browser tests: an artifacts directory per test case, starting the
// browser (a missing chromium or chromedriver is a failure that says to run scripts/setup, never
// a skip), and a screenshot with the page source when a test has failed.

#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "webdriver.hpp"

namespace vmlab_browser {

// <build>/tests/browser/artifacts/<Suite>.<Test>, emptied for this run of the test: the
// chromedriver log, and screenshots and page sources of failures.
inline std::filesystem::path test_artifacts_dir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(info->test_suite_name()) + "." + info->name();
    for (char& c : name)
        if (c == '/') c = '_';
    const std::filesystem::path dir = std::filesystem::path(VMLAB_BROWSER_ARTIFACTS_DIR) / name;
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    std::filesystem::create_directories(dir);
    return dir;
}

// Starts a browser for the current test into `browser`; a failure (fatal) otherwise.
// Call as ASSERT_NO_FATAL_FAILURE(start_browser(m_browser)).
inline void start_browser(std::unique_ptr<Browser>& browser) {
    BrowserOptions options;
    options.artifacts_dir = test_artifacts_dir();
    try {
        browser = std::make_unique<Browser>(options);
    } catch (const BrowserError& e) {
        FAIL() << e.what();
    }
}

// When the current test has failed, saves what the browser shows, and says where.
inline void keep_evidence_if_failed(const Browser* browser) {
    if (browser == nullptr || !::testing::Test::HasFailure()) return;
    std::cerr << "browser at the failure (" << browser->artifacts_dir().string() << "): " << browser->save_evidence("at failure")
              << '\n';
}

// A test case with a fresh browser of its own, stopped in TearDown even when the test failed.
class BrowserTest : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_NO_FATAL_FAILURE(start_browser(m_browser)); }
    void TearDown() override {
        keep_evidence_if_failed(m_browser.get());
        m_browser.reset();
    }

    Browser& browser() { return *m_browser; }

    std::unique_ptr<Browser> m_browser;
};

}  // namespace vmlab_browser
