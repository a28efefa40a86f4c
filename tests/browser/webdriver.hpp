#pragma once
// A small W3C WebDriver client for the browser tests: it starts Debian's chromedriver on a
// loopback port, opens one headless Chromium session that can reach nothing but 127.0.0.1, and
// drives it over HTTP (Boost.Beast, JSON by nlohmann-json). The Browser object owns both: its
// destructor ends the session, stops chromedriver and everything it started, and removes the
// temporary profile — also when a test fails half-way.
//
// Waits poll until a condition holds; on timeout they save a screenshot and the page source
// into the artifacts directory and throw a BrowserError that names the selector, what was
// expected and what was last seen.

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "background_process.hpp"

namespace vmlab_browser {

using json = nlohmann::json;
using namespace std::chrono_literals;

// A WebDriver command that failed; code() is the W3C error code ("no such element",
// "stale element reference", ...) or "" when the driver could not be reached.
class WebDriverError : public BrowserError {
public:
    WebDriverError(const std::string& what, std::string code) : BrowserError(what), m_code(std::move(code)) {}
    const std::string& code() const { return m_code; }

private:
    std::string m_code;
};

struct BrowserOptions {
    std::filesystem::path artifacts_dir;  // chromedriver's log, and screenshots and page sources of failures
    std::chrono::milliseconds command_timeout = 60s;  // one WebDriver command (a page load included)
    int window_width = 1280;
    int window_height = 900;
};

class Browser;

// An element found by a CSS selector; it remembers the selector for messages.
class Element {
public:
    void click() const;
    void clear() const;
    void send_keys(std::string_view text) const;
    std::string text() const;                                     // the rendered text, as a person reads it
    std::optional<std::string> attribute(const std::string& name) const;  // nullopt when absent
    json property(const std::string& name) const;                 // the DOM property (e.g. "value", "href" resolved)
    bool displayed() const;
    std::vector<Element> find_all(const std::string& css) const;  // descendants matching `css`
    Element find(const std::string& css) const;                   // the first; throws when none

    const std::string& selector() const { return m_selector; }

private:
    friend class Browser;
    Element(const Browser& browser, std::string id, std::string selector)
        : m_browser(&browser), m_id(std::move(id)), m_selector(std::move(selector)) {}
    json call(const char* method, const std::string& command, const json& body = nullptr) const;

    const Browser* m_browser;
    std::string m_id;
    std::string m_selector;
};

class Browser {
public:
    // Starts chromedriver and a headless Chromium session. Throws BrowserError (saying to run
    // scripts/setup) when chromium or chromedriver is not installed, or when either fails.
    explicit Browser(BrowserOptions options);
    Browser(const Browser&) = delete;
    Browser& operator=(const Browser&) = delete;
    ~Browser();

    void navigate(const std::string& url) const;  // waits for the page's load event
    std::string current_url() const;
    std::string title() const;
    std::string page_source() const;

    std::vector<Element> find_all(const std::string& css) const;
    Element find(const std::string& css) const;  // throws WebDriverError("no such element") naming `css`

    // Runs `script` as a function body in the page (`arguments[i]` are `args`); its return value.
    json execute(const std::string& script, const json& args = json::array()) const;

    void save_screenshot(const std::filesystem::path& png) const;
    // Saves NN-label.png and NN-label.html (screenshot, page source and URL) into the artifacts
    // directory; returns the screenshot's path (or a note why it could not be taken).
    std::string save_evidence(std::string_view label) const;

    // Polls `check` (every 100 ms) until it returns true, at most `timeout`. `check` describes in
    // `seen` what it found, for the failure message. On timeout: saves evidence and throws
    // BrowserError "timed out after N s waiting for <what>; last seen: <seen>; screenshot: …".
    void wait_until(const std::string& what, const std::function<bool(std::string& seen)>& check,
                    std::chrono::milliseconds timeout) const;
    // The first element matching `css` is displayed; returns it.
    Element wait_for_visible(const std::string& css, std::chrono::milliseconds timeout = 10s) const;
    // The first element matching `css` shows exactly `text` (surrounding whitespace ignored).
    Element wait_for_text(const std::string& css, const std::string& text, std::chrono::milliseconds timeout = 10s) const;
    // No element matches `css`, or none of them is displayed.
    void wait_for_hidden(const std::string& css, std::chrono::milliseconds timeout = 10s) const;
    // For pages that re-render: each finds `css` afresh, waits (up to `timeout`) until its first
    // match is displayed, and tries again when the element is replaced or covered meanwhile.
    void click(const std::string& css, std::chrono::milliseconds timeout = 10s) const;
    void type(const std::string& css, std::string_view text, std::chrono::milliseconds timeout = 10s) const;
    std::string text(const std::string& css, std::chrono::milliseconds timeout = 10s) const;  // trimmed
    // The current URL satisfies `pred`; `what` describes it.
    std::string wait_for_url(const std::string& what, const std::function<bool(const std::string&)>& pred,
                             std::chrono::milliseconds timeout = 10s) const;

    const std::filesystem::path& artifacts_dir() const { return m_options.artifacts_dir; }
    std::string chromedriver_log() const;
    const std::string& version() const { return m_version; }  // "Chromium X, ChromeDriver Y"

private:
    friend class Element;
    // One command of this session: `method` is "GET", "POST" or "DELETE", `path` is below
    // /session/ID. Returns the reply's "value"; throws WebDriverError.
    json call(const char* method, const std::string& path, const json& body = nullptr) const;
    json send(const char* method, const std::string& target, const json& body, std::chrono::milliseconds timeout) const;
    std::vector<Element> elements_from(const json& found, const std::string& selector) const;

    // A directory removed with everything in it when the Browser goes (after chromedriver stopped).
    struct TempDir {
        std::filesystem::path path;
        TempDir() = default;
        TempDir(const TempDir&) = delete;
        TempDir& operator=(const TempDir&) = delete;
        ~TempDir();
    };

    BrowserOptions m_options;
    TempDir m_profile;                            // Chromium's user-data-dir
    std::unique_ptr<BackgroundProcess> m_driver;  // declared after m_profile: stops before it is removed
    unsigned short m_port = 0;
    std::string m_session;
    std::string m_version;
    mutable int m_evidence_count = 0;
};

// `text` with surrounding whitespace (also non-breaking spaces) removed.
std::string trimmed(std::string_view text);

}  // namespace vmlab_browser
