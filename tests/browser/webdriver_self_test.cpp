// The browser harness itself, without the portal: headless Chromium loads pages from an
// in-test loopback server, and the WebDriver client types, clicks, reads and waits.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <string>

#include "browser_test_support.hpp"
#include "loopback.hpp"

namespace vmlab_browser {
namespace {

namespace fs = std::filesystem;

const std::string page = R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Harness page</title></head>
<body>
  <p id="message">Not clicked</p>
  <input id="name" autocomplete="off">
  <button id="greet" data-clicks="0">Greet</button>
  <ul id="items"><li>one</li><li>two</li><li>three</li></ul>
  <p id="later" hidden>Shown later</p>
  <p id="seen-token"></p>
  <script>
    // What the portal does with a seat card's link: take the token from the fragment, then
    // remove it from the address bar and the history.
    const token = new URLSearchParams(location.hash.slice(1)).get('token');
    if (token) {
      document.getElementById('seen-token').textContent = 'token of ' + token.length + ' characters';
      history.replaceState(null, '', location.pathname + location.search);
    }
    const greet = document.getElementById('greet');
    greet.addEventListener('click', () => {
      greet.dataset.clicks = String(Number(greet.dataset.clicks) + 1);
      document.getElementById('message').textContent = 'Hello, ' + document.getElementById('name').value;
      setTimeout(() => { document.getElementById('later').hidden = false; }, 300);
    });
  </script>
</body></html>
)";

class WebDriver : public BrowserTest {
protected:
    StaticHttpServer m_site{{{"/", {"text/html; charset=utf-8", page}}}};
};

TEST_F(WebDriver, TypesClicksReadsAndWaits) {
    std::cout << "driving " << browser().version() << '\n';
    browser().navigate(m_site.url("/"));
    EXPECT_EQ(browser().title(), "Harness page");
    EXPECT_EQ(browser().current_url(), m_site.url("/"));
    EXPECT_EQ(trimmed(browser().find("#message").text()), "Not clicked");
    EXPECT_FALSE(browser().find("#later").displayed());
    EXPECT_EQ(browser().find_all("#items li").size(), 3u);
    EXPECT_EQ(browser().find("#items").find("li:last-child").text(), "three");
    EXPECT_TRUE(browser().find_all("#no-such-thing").empty());

    const Element name = browser().find("#name");
    name.send_keys("vmlab");
    EXPECT_EQ(name.property("value"), "vmlab");
    const Element greet = browser().find("#greet");
    EXPECT_EQ(greet.attribute("data-clicks"), "0");
    EXPECT_EQ(greet.attribute("no-such-attribute"), std::nullopt);
    greet.click();

    browser().wait_for_text("#message", "Hello, vmlab");
    EXPECT_EQ(greet.attribute("data-clicks"), "1");
    EXPECT_EQ(browser().wait_for_visible("#later").text(), "Shown later");
    EXPECT_EQ(browser().execute("return arguments[0] + document.querySelectorAll('li').length;", {"items: "}), "items: 3");

    name.clear();
    browser().type("#name", "again");
    browser().click("#greet");
    browser().wait_for_text("#message", "Hello, again");
    EXPECT_EQ(browser().text("#message"), "Hello, again");
}

// A link with a token in its fragment: the page can read it and remove it from the URL, and
// the harness sees both.
TEST_F(WebDriver, SeesAFragmentTokenRemovedFromTheUrl) {
    const std::string token = "not-a-real-token-0123456789";
    browser().navigate(m_site.url("/#token=" + token));
    browser().wait_for_text("#seen-token", "token of " + std::to_string(token.size()) + " characters");
    const std::string url = browser().wait_for_url("lose the token", [&](const std::string& u) { return u.find(token) == std::string::npos; });
    EXPECT_EQ(url, m_site.url("/"));
}

// A wait that fails says which selector, what it wanted and what it saw, and leaves a screenshot
// and the page source in the test's artifacts directory.
TEST_F(WebDriver, FailedWaitNamesSelectorAndTextSeenAndSavesAScreenshot) {
    browser().navigate(m_site.url("/"));
    try {
        browser().wait_for_text("#message", "Never shown", std::chrono::milliseconds(700));
        FAIL() << "wait_for_text did not time out";
    } catch (const BrowserError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("timed out after 0.7 s"), std::string::npos) << what;
        EXPECT_NE(what.find("`#message` to show \"Never shown\""), std::string::npos) << what;
        EXPECT_NE(what.find("`#message` shows \"Not clicked\""), std::string::npos) << what;
        EXPECT_NE(what.find(m_site.url("/")), std::string::npos) << what;
    }
    try {
        browser().wait_for_visible("#later", std::chrono::milliseconds(300));
        FAIL() << "wait_for_visible did not time out";
    } catch (const BrowserError& e) {
        EXPECT_NE(std::string(e.what()).find("`#later` is there but hidden"), std::string::npos) << e.what();
    }

    std::vector<fs::path> screenshots;
    for (const auto& entry : fs::directory_iterator(browser().artifacts_dir()))
        if (entry.path().extension() == ".png") screenshots.push_back(entry.path());
    ASSERT_EQ(screenshots.size(), 2u) << "in " << browser().artifacts_dir();
    std::ifstream png(screenshots.front(), std::ios::binary);
    std::string signature(8, '\0');
    png.read(signature.data(), 8);
    EXPECT_EQ(signature, "\x89PNG\r\n\x1a\n") << screenshots.front();
    EXPECT_TRUE(fs::exists(fs::path(screenshots.front()).replace_extension(".html")));
}

// The browser runs with the flags that keep it on 127.0.0.1 (chrome://version shows its
// command line; nothing leaves the machine to find out).
TEST_F(WebDriver, BrowserIsConfinedToLoopback) {
    browser().navigate("chrome://version");
    const std::string command_line = browser().find("#command_line").text();
    for (const std::string flag : {"--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", "--no-proxy-server",
                                   "--disable-background-networking", "--disable-component-update", "--headless=new"})
        EXPECT_NE(command_line.find(flag), std::string::npos) << flag << " is missing from " << command_line;
}

// Without chromedriver the harness fails (it never skips) and says how to fix the machine.
TEST(WebDriverSetup, MissingChromedriverSaysToRunSetup) {
    const std::string path = ::getenv("PATH") ? ::getenv("PATH") : "";
    ::setenv("PATH", "/nonexistent", 1);
    std::string message;
    try {
        BrowserOptions options;
        options.artifacts_dir = test_artifacts_dir();
        Browser browser(options);
    } catch (const BrowserError& e) {
        message = e.what();
    }
    ::setenv("PATH", path.c_str(), 1);
    EXPECT_NE(message.find("chromedriver"), std::string::npos) << message;
    EXPECT_NE(message.find("scripts/setup"), std::string::npos) << message;
}

}  // namespace
}  // namespace vmlab_browser
