using System.Diagnostics;
using System.Globalization;
using CatsDogs.ML;
using CatsDogs.ML.Data;
using CatsDogs.ML.Features;
using CatsDogs.ML.Imaging;
using Microsoft.Playwright;

namespace CatsDogs.Bench;

/// <summary>
/// The page's live mode (docs/web.md "Live camera"): the app as its own process on 127.0.0.1 serving a ResNet18 model
/// (fp32, then int8) on the native view, then on the default views (ImageView.Defaults); Debian's Chromium headless through
/// Playwright with a fake camera (Chromium's own test pattern). Prints the model's download size, the first scored
/// frame after load with a cold cache and with the model cached, and the frames scored per second over 30 s.
/// </summary>
internal static class LiveBench
{
    private const string Chromium = "/usr/bin/chromium";
    private const int Seconds = 30;

    public static int Run(string data)
    {
        var all = ImageDataset.FromFolder(data).Shuffle(seed: 13);
        var train = new ImageDataset(all.Where(p => p.Label == PetLabel.Cat).Take(100).Concat(all.Where(p => p.Label == PetLabel.Dog).Take(100)));
        Console.WriteLine($"Live camera — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}; ResNet18 (rgb224), trained on 200 photos in each precision; onnxruntime-web wasm in headless Chromium, fake camera; {Seconds} s a row.");
        Console.WriteLine();
        Console.WriteLine("| precision | views | model download | first scored frame, cold | first scored frame, model cached | frames scored per second | wasm threads |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|---:|");
        foreach (var precision in new[] { Precision.Fp32, Precision.Int8 })
        foreach (var (name, views) in new (string, IReadOnlyList<ImageView>)[] { ("native", [ImageView.Native]), (string.Join(", ", ImageView.Defaults) + " (default)", ImageView.Defaults) })
        {
            using var work = new TempFolder();
            var model = Path.Combine(work.Path, "model.zip");
            using (var classifier = new CatsDogsTrainer(new CatsDogsOptions { Views = views, Precision = precision }).Train(train))
            {
                classifier.Save(model);
            }

            using var app = WebLoadBench.RunningApp.Start(model, TimeSpan.FromMinutes(2));
            var (bytes, cold, cached, rate, threads) = RunAsync(app.Address, Path.Combine(work.Path, "profile")).GetAwaiter().GetResult();
            Console.WriteLine($"| {Precisions.Name(precision)} | {name} | {bytes / 1048576.0:F1} MiB | {cold / 1000:F1} s | {cached / 1000:F1} s | {rate.ToString("F1", CultureInfo.InvariantCulture)} | {threads} |");
        }

        return 0;
    }

    // A fresh browser profile (cold cache): the first load, a reload with the model cached, then the live camera for Seconds.
    private static async Task<(long Bytes, double Cold, double Cached, double Rate, int Threads)> RunAsync(string address, string profile)
    {
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchPersistentContextAsync(profile, new BrowserTypeLaunchPersistentContextOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Timeout = 60_000,
            Args =
            [
                "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", "--disk-cache-size=1000000000",
            ],
        });
        var page = browser.Pages.Count > 0 ? browser.Pages[0] : await browser.NewPageAsync();
        page.SetDefaultTimeout(300_000);
        var (cold, bytes, threads) = await FirstFrame(page, address);
        var (cached, _, _) = await FirstFrame(page, address);
        var start = await Frames(page);
        var clock = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(Seconds));
        return (bytes, cold, cached, (await Frames(page) - start) / clock.Elapsed.TotalSeconds, threads);
    }

    // Loads the page, starts the live camera at once and returns the time from navigation start to the first scored frame.
    private static async Task<(double Ms, long Bytes, int Threads)> FirstFrame(IPage page, string address)
    {
        await page.GotoAsync(address);
        await page.GetByRole(AriaRole.Button, new() { Name = "Live" }).ClickAsync();
        await page.WaitForFunctionAsync("() => document.getElementById('live-label').dataset.firstFrameAt !== undefined", null, new() { Timeout = 300_000 });
        var label = page.Locator("#live-label");
        return (
            double.Parse((await label.GetAttributeAsync("data-first-frame-at"))!, CultureInfo.InvariantCulture),
            long.Parse((await label.GetAttributeAsync("data-model-bytes"))!, CultureInfo.InvariantCulture),
            int.Parse((await label.GetAttributeAsync("data-threads"))!, CultureInfo.InvariantCulture));
    }

    private static async Task<int> Frames(IPage page) =>
        int.Parse(await page.Locator("#live-label").GetAttributeAsync("data-frames") ?? "0", CultureInfo.InvariantCulture);
}
