using Microsoft.Playwright;
using Xunit;

namespace CatsDogs.ML.Tests;

/// <summary>
/// Debian's Chromium under Playwright (Playwright's own browser download cannot be fetched here), headless, with a fake
/// camera that plays <c>cameraFile</c> (a .y4m or .mjpeg clip) and grants the page access to it without asking.
/// </summary>
internal static class TestChromium
{
    public const string Path = "/usr/bin/chromium";

    public static Task<IBrowser> LaunchAsync(IPlaywright playwright, string cameraFile)
    {
        Assert.True(File.Exists(Path), $"{Path} is missing: install Debian's chromium package (.ci/run does).");
        return playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Path,
            Headless = true,
            Timeout = 60_000,
            Args =
            [
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", $"--use-file-for-fake-video-capture={cameraFile}",
            ],
        });
    }
}
