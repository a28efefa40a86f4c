#include "webdriver.hpp"

#include <stdlib.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/process/search_path.hpp>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

namespace vmlab_browser {

namespace fs = std::filesystem;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

// The W3C name of the key under which an element reference comes.
const std::string element_key = "element-6066-11e4-a52e-4f735466cecf";
const std::string setup_hint = "run scripts/setup (as root), which installs Debian's chromium and chromium-driver";

// Debian's real browser binary: the /usr/bin/chromium wrapper would add flags (remote
// extensions) and Google API keys from /etc/chromium.d that these tests do not want.
fs::path find_chromium() {
    if (fs::path real = "/usr/lib/chromium/chromium"; fs::exists(real)) return real;
    if (auto found = boost::process::search_path("chromium"); !found.empty()) return found.string();
    throw BrowserError("the browser tests need Chromium, but /usr/lib/chromium/chromium does not exist and chromium is not "
                       "in PATH: " + setup_hint);
}

fs::path find_chromedriver() {
    if (auto found = boost::process::search_path("chromedriver"); !found.empty()) return found.string();
    throw BrowserError("the browser tests need chromedriver, but it is not in PATH: " + setup_hint);
}

// Chromium flags. Headless, no sandbox (tests run as root), a throw-away profile, and no
// traffic to any address but 127.0.0.1: every host name and IP literal except 127.0.0.1
// resolves to "not found" (so use 127.0.0.1, never "localhost", in test URLs), no proxy is
// used (not even one from the environment; a --proxy-bypass-list would only matter with a
// proxy), and the features that call home on their own are off.
std::vector<std::string> chromium_args(const BrowserOptions& options, const fs::path& profile) {
    return {
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--user-data-dir=" + profile.string(),
        "--window-size=" + std::to_string(options.window_width) + "," + std::to_string(options.window_height),
        "--lang=en-US",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--no-proxy-server",
        "--disable-component-update",
        "--disable-background-networking",
        "--disable-sync",
        "--no-first-run",
        "--disable-default-apps",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-domain-reliability",
        "--disable-client-side-phishing-detection",
        "--safebrowsing-disable-auto-update",
        "--disable-breakpad",
        "--no-pings",
        "--metrics-recording-only",
        "--password-store=basic",
        "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
        "--disable-features=MediaRouter,DialMediaRouteProvider,OptimizationHints,Translate,AutofillServerCommunication,"
        "CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions",
    };
}

std::string read_whole(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string first_lines(const std::string& text, int count) {
    std::size_t end = 0;
    for (int i = 0; i < count; ++i) {
        end = text.find('\n', i == 0 ? 0 : end + 1);
        if (end == std::string::npos) return text;
    }
    return text.substr(0, end);
}

std::string base64_decode(const std::string& text) {
    std::array<int, 256> value{};
    value.fill(-1);
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (std::size_t i = 0; i < alphabet.size(); ++i) value[static_cast<unsigned char>(alphabet[i])] = static_cast<int>(i);
    std::string out;
    unsigned bits = 0;
    int count = 0;
    for (const char c : text) {
        const int v = value[static_cast<unsigned char>(c)];
        if (v < 0) continue;  // '=' padding, line breaks
        bits = (bits << 6) | static_cast<unsigned>(v);
        count += 6;
        if (count >= 8) {
            count -= 8;
            out.push_back(static_cast<char>((bits >> count) & 0xff));
        }
    }
    return out;
}

// "wait for `#a .b` to show \"x\"" -> "wait-for-a-b-to-show-x", for file names.
std::string file_label(std::string_view text) {
    std::string label;
    for (const char c : text) {
        if (std::isalnum(static_cast<unsigned char>(c))) label.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
        else if (!label.empty() && label.back() != '-') label.push_back('-');
        if (label.size() >= 60) break;
    }
    while (!label.empty() && label.back() == '-') label.pop_back();
    return label.empty() ? "evidence" : label;
}

std::string seconds_text(std::chrono::milliseconds d) {
    std::ostringstream text;
    text << static_cast<double>(d.count()) / 1000.0;
    return text.str();
}

}  // namespace

std::string trimmed(std::string_view text) {
    auto is_space = [](std::string_view t, std::size_t at) -> std::size_t {  // length of the space at `at`, or 0
        if (at < t.size() && std::isspace(static_cast<unsigned char>(t[at]))) return 1;
        if (at + 1 < t.size() && t[at] == '\xc2' && t[at + 1] == '\xa0') return 2;
        return 0;
    };
    while (const std::size_t n = is_space(text, 0)) text.remove_prefix(n);
    for (;;) {
        if (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
        else if (text.size() >= 2 && text.substr(text.size() - 2) == "\xc2\xa0") text.remove_suffix(2);
        else break;
    }
    return std::string(text);
}

// --- Element ----------------------------------------------------------------------------------

json Element::call(const char* method, const std::string& command, const json& body) const {
    return m_browser->call(method, "/element/" + m_id + command, body);
}

void Element::click() const { call("POST", "/click", json::object()); }

void Element::clear() const { call("POST", "/clear", json::object()); }

void Element::send_keys(std::string_view text) const { call("POST", "/value", {{"text", std::string(text)}}); }

std::string Element::text() const { return call("GET", "/text").get<std::string>(); }

std::optional<std::string> Element::attribute(const std::string& name) const {
    const json value = call("GET", "/attribute/" + name);
    if (value.is_null()) return std::nullopt;
    return value.is_string() ? value.get<std::string>() : value.dump();
}

json Element::property(const std::string& name) const { return call("GET", "/property/" + name); }

bool Element::displayed() const { return call("GET", "/displayed").get<bool>(); }

std::vector<Element> Element::find_all(const std::string& css) const {
    return m_browser->elements_from(call("POST", "/elements", {{"using", "css selector"}, {"value", css}}),
                                    m_selector + " " + css);
}

Element Element::find(const std::string& css) const {
    auto found = find_all(css);
    if (found.empty()) throw WebDriverError("no element matches `" + css + "` inside `" + m_selector + "`", "no such element");
    return found.front();
}

// --- Browser ----------------------------------------------------------------------------------

Browser::TempDir::~TempDir() {
    if (path.empty()) return;
    std::error_code ec;
    fs::remove_all(path, ec);
}

Browser::Browser(BrowserOptions options) : m_options(std::move(options)) {
    const fs::path chromium = find_chromium();
    const fs::path chromedriver = find_chromedriver();
    if (m_options.artifacts_dir.empty()) m_options.artifacts_dir = fs::temp_directory_path() / "vmlab-browser-artifacts";
    fs::create_directories(m_options.artifacts_dir);

    std::string profile = (fs::temp_directory_path() / "vmlab-chromium-XXXXXX").string();
    if (::mkdtemp(profile.data()) == nullptr) throw BrowserError("cannot create a temporary Chromium profile " + profile);
    m_profile.path = profile;

    // --port=0: chromedriver takes a free port (on loopback only, as it does without
    // --allowed-ips) and says which on stdout.
    const fs::path log = m_options.artifacts_dir / "chromedriver.log";
    m_driver = std::make_unique<BackgroundProcess>(std::vector<std::string>{chromedriver.string(), "--port=0"}, log, log);
    const std::regex started("started successfully on port ([0-9]+)");
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    for (;;) {
        std::smatch match;
        const std::string text = read_whole(log);
        if (std::regex_search(text, match, started)) {
            m_port = static_cast<unsigned short>(std::stoi(match[1].str()));
            break;
        }
        if (!m_driver->running() || std::chrono::steady_clock::now() > deadline)
            throw BrowserError("`" + m_driver->command() + "` did not start" +
                               (m_driver->running() ? " within 30 s" : " (it exited)") + "; its output:\n" + text +
                               "\nIf chromedriver is broken or missing, " + setup_hint);
        std::this_thread::sleep_for(50ms);
    }

    const json capabilities = {
        {"browserName", "chrome"},
        {"pageLoadStrategy", "normal"},
        {"timeouts", {{"pageLoad", m_options.command_timeout.count()}, {"script", m_options.command_timeout.count()}, {"implicit", 0}}},
        {"goog:chromeOptions", {{"binary", chromium.string()}, {"args", chromium_args(m_options, m_profile.path)}}},
    };
    json created;
    try {
        created = send("POST", "/session", {{"capabilities", {{"alwaysMatch", capabilities}}}}, m_options.command_timeout);
    } catch (const WebDriverError& e) {
        throw BrowserError(std::string("cannot start headless Chromium: ") + e.what() + "\nchromedriver's output (" +
                           log.string() + "):\n" + read_whole(log) + "\nIf Chromium is broken or missing, " + setup_hint);
    }
    m_session = created.at("sessionId").get<std::string>();
    const json& caps = created.at("capabilities");
    m_version = "Chromium " + caps.value("browserVersion", std::string("?"));
    if (caps.contains("chrome")) {
        const std::string driver = caps["chrome"].value("chromedriverVersion", std::string("?"));
        m_version += ", ChromeDriver " + driver.substr(0, driver.find(' '));
    }
}

Browser::~Browser() {
    if (!m_session.empty()) {
        try {
            send("DELETE", "/session/" + m_session, nullptr, 15s);  // Chromium quits
        } catch (const std::exception&) {
            // chromedriver is gone or stuck: stopping its process group below ends Chromium too
        }
    }
    m_driver.reset();
}

json Browser::send(const char* method, const std::string& target, const json& body, std::chrono::milliseconds timeout) const {
    const std::string command = std::string(method) + " " + target;
    http::request<http::string_body> request{http::string_to_verb(method), target, 11};
    request.set(http::field::host, "127.0.0.1:" + std::to_string(m_port));
    request.set(http::field::accept, "application/json");
    if (request.method() == http::verb::post) {
        request.set(http::field::content_type, "application/json; charset=utf-8");
        request.body() = body.is_null() ? "{}" : body.dump();
    }
    request.prepare_payload();

    net::io_context io;
    beast::tcp_stream stream(io);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256u << 20);  // screenshots and page sources
    beast::error_code failure;
    stream.expires_after(timeout);
    stream.async_connect(tcp::endpoint(net::ip::address_v4::loopback(), m_port), [&](beast::error_code ec) {
        if (ec) {
            failure = ec;
            return;
        }
        http::async_write(stream, request, [&](beast::error_code wec, std::size_t) {
            if (wec) {
                failure = wec;
                return;
            }
            http::async_read(stream, buffer, parser, [&](beast::error_code rec, std::size_t) { failure = rec; });
        });
    });
    io.run();
    if (failure == beast::error::timeout)
        throw WebDriverError("WebDriver `" + command + "` got no answer within " + seconds_text(timeout) + " s", "");
    if (failure) throw WebDriverError("WebDriver `" + command + "` failed: " + failure.message(), "");

    const auto& response = parser.get();
    const json reply = json::parse(response.body(), nullptr, false);
    if (reply.is_discarded() || !reply.is_object())
        throw WebDriverError("WebDriver `" + command + "` answered HTTP " + std::to_string(response.result_int()) +
                                 " without JSON: " + first_lines(response.body(), 3),
                             "");
    const json value = reply.value("value", json());
    if (response.result() != http::status::ok || (value.is_object() && value.contains("error"))) {
        const std::string code = value.is_object() ? value.value("error", std::string("unknown error")) : "unknown error";
        const std::string message = value.is_object() ? value.value("message", std::string()) : reply.dump();
        throw WebDriverError("WebDriver `" + command + "` failed: " + code + ": " + first_lines(message, 2), code);
    }
    return value;
}

json Browser::call(const char* method, const std::string& path, const json& body) const {
    return send(method, "/session/" + m_session + path, body, m_options.command_timeout);
}

std::vector<Element> Browser::elements_from(const json& found, const std::string& selector) const {
    std::vector<Element> elements;
    for (const auto& reference : found) elements.push_back(Element(*this, reference.at(element_key).get<std::string>(), selector));
    return elements;
}

void Browser::navigate(const std::string& url) const { call("POST", "/url", {{"url", url}}); }

std::string Browser::current_url() const { return call("GET", "/url").get<std::string>(); }

std::string Browser::title() const { return call("GET", "/title").get<std::string>(); }

std::string Browser::page_source() const { return call("GET", "/source").get<std::string>(); }

std::vector<Element> Browser::find_all(const std::string& css) const {
    return elements_from(call("POST", "/elements", {{"using", "css selector"}, {"value", css}}), css);
}

Element Browser::find(const std::string& css) const {
    auto found = find_all(css);
    if (found.empty()) throw WebDriverError("no element matches `" + css + "` on " + current_url(), "no such element");
    return found.front();
}

json Browser::execute(const std::string& script, const json& args) const {
    return call("POST", "/execute/sync", {{"script", script}, {"args", args}});
}

void Browser::save_screenshot(const fs::path& png) const {
    const std::string image = base64_decode(call("GET", "/screenshot").get<std::string>());
    std::ofstream out(png, std::ios::binary | std::ios::trunc);
    out << image;
    if (!out.flush()) throw BrowserError("cannot write " + png.string());
}

std::string Browser::save_evidence(std::string_view label) const {
    char number[16];  // room for any int: gcc -O2 checks
    std::snprintf(number, sizeof number, "%02d-", ++m_evidence_count);
    const fs::path base = m_options.artifacts_dir / (number + file_label(label));
    std::string where;
    try {
        save_screenshot(fs::path(base).concat(".png"));
        where = fs::path(base).concat(".png").string();
    } catch (const std::exception& e) {
        where = std::string("(no screenshot: ") + e.what() + ")";
    }
    try {
        std::ofstream(fs::path(base).concat(".html")) << "<!-- " << current_url() << " -->\n" << page_source();
        where += ", " + fs::path(base).concat(".html").string();
    } catch (const std::exception& e) {
        where += std::string(" (no page source: ") + e.what() + ")";
    }
    return where;
}

namespace {

// The first element matching `css` if it is displayed; otherwise says in `seen` why not.
std::optional<Element> displayed_match(const Browser& browser, const std::string& css, std::string& seen) {
    auto found = browser.find_all(css);
    if (found.empty()) {
        seen = "no element matches `" + css + "`";
        return std::nullopt;
    }
    if (!found.front().displayed()) {
        seen = "`" + css + "` is there but hidden";
        return std::nullopt;
    }
    return found.front();
}

}  // namespace

void Browser::wait_until(const std::string& what, const std::function<bool(std::string& seen)>& check,
                         std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string seen;
    for (;;) {
        seen.clear();
        try {
            if (check(seen)) return;
        } catch (const WebDriverError& e) {
            // The page changed under the check (re-rendered, navigated, a dialog still closing):
            // look again. Anything else (the session or the driver gone) will not get better.
            if (e.code() != "stale element reference" && e.code() != "no such element" &&
                e.code() != "element click intercepted" && e.code() != "element not interactable")
                throw;
            seen = e.what();
        }
        if (std::chrono::steady_clock::now() >= deadline) break;
        std::this_thread::sleep_for(100ms);
    }
    std::string url;
    try {
        url = current_url();
    } catch (const std::exception& e) {
        url = std::string("(unknown: ") + e.what() + ")";
    }
    const std::string evidence = save_evidence("wait " + what);
    throw BrowserError("timed out after " + seconds_text(timeout) + " s waiting for " + what +
                       "\n  last seen: " + (seen.empty() ? "(nothing)" : seen) + "\n  page: " + url +
                       "\n  saved: " + evidence);
}

Element Browser::wait_for_visible(const std::string& css, std::chrono::milliseconds timeout) const {
    std::optional<Element> shown;
    wait_until("`" + css + "` to be displayed", [&](std::string& seen) {
        shown = displayed_match(*this, css, seen);
        return shown.has_value();
    }, timeout);
    return *shown;
}

Element Browser::wait_for_text(const std::string& css, const std::string& text, std::chrono::milliseconds timeout) const {
    std::optional<Element> match;
    wait_until("`" + css + "` to show \"" + text + "\"", [&](std::string& seen) {
        const auto found = find_all(css);
        if (found.empty()) {
            seen = "no element matches `" + css + "`";
            return false;
        }
        const std::string shown = trimmed(found.front().text());
        seen = "`" + css + "` shows \"" + shown + "\"" + (found.front().displayed() ? "" : " (hidden)");
        if (shown != text) return false;
        match = found.front();
        return true;
    }, timeout);
    return *match;
}

void Browser::wait_for_hidden(const std::string& css, std::chrono::milliseconds timeout) const {
    wait_until("`" + css + "` to be hidden or gone", [&](std::string& seen) {
        for (const auto& element : find_all(css))
            if (element.displayed()) {
                seen = "`" + css + "` is displayed, showing \"" + trimmed(element.text()) + "\"";
                return false;
            }
        return true;
    }, timeout);
}

void Browser::click(const std::string& css, std::chrono::milliseconds timeout) const {
    wait_until("`" + css + "` to be clicked", [&](std::string& seen) {
        const auto element = displayed_match(*this, css, seen);
        if (element) element->click();
        return element.has_value();
    }, timeout);
}

void Browser::type(const std::string& css, std::string_view text, std::chrono::milliseconds timeout) const {
    wait_until("`" + css + "` to take typing", [&](std::string& seen) {
        const auto element = displayed_match(*this, css, seen);
        if (element) element->send_keys(text);
        return element.has_value();
    }, timeout);
}

std::string Browser::text(const std::string& css, std::chrono::milliseconds timeout) const {
    std::string shown;
    wait_until("`" + css + "` to be there", [&](std::string& seen) {
        const auto found = find_all(css);
        if (found.empty()) seen = "no element matches `" + css + "`";
        else shown = trimmed(found.front().text());
        return !found.empty();
    }, timeout);
    return shown;
}

std::string Browser::wait_for_url(const std::string& what, const std::function<bool(const std::string&)>& pred,
                                  std::chrono::milliseconds timeout) const {
    std::string url;
    wait_until("the URL to " + what, [&](std::string& seen) {
        url = current_url();
        seen = "URL " + url;
        return pred(url);
    }, timeout);
    return url;
}

std::string Browser::chromedriver_log() const { return read_whole(m_options.artifacts_dir / "chromedriver.log"); }

}  // namespace vmlab_browser
