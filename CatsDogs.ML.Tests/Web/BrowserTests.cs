using System.Globalization;
using CatsDogs.ML.Audit;
using CatsDogs.ML.Data;
using CatsDogs.ML.Evaluation;
using CatsDogs.ML.Features;
using CatsDogs.ML.Tests.Harness;
using CatsDogs.ML.Training;
using Microsoft.Playwright;
using SkiaSharp;
using Xunit;
using Xunit.Abstractions;

namespace CatsDogs.ML.Tests.Web;

/// <summary>
/// The web page in a real browser: Debian's Chromium driven by Playwright (its own browser download cannot be fetched
/// here), against the app on a local port serving the hello world's ResNet18 model. Waits on page state, never sleeps.
/// </summary>
[Collection("trained resnet18")]
[Trait("Category", Category.Harness)]
public sealed class BrowserTests(HelloWorldFixture trained, ITestOutputHelper output) : IAsyncLifetime
{
    private readonly TempDirectory _dir = TestEnvironment.NewTempDirectory();
    private readonly List<string> _consoleErrors = [];
    private WebServer? _server;
    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public async Task InitializeAsync()
    {
        if (TestEnvironment.MissingRealData is not null && !TestEnvironment.InCi)
        {
            return;
        }

        var model = _dir.File("model.zip");
        trained.Classifier!.Save(model);
        _server = await WebServer.StartAsync("--model", model);
        _playwright = await Playwright.CreateAsync();
        _browser = await TestChromium.LaunchAsync(_playwright, CameraFile());
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.CloseAsync();
        }

        _playwright?.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        _dir.Dispose();
    }

    [HarnessFact]
    public async Task UploadingAPhoto_ShowsThePDogOfTheLibrary_AndItsOverlay()
    {
        var page = await Page();
        var photo = trained.Test![0].Path;
        await page.SetInputFilesAsync("#files", photo);
        var result = page.Locator(".result[data-dog-probability]");
        await result.WaitForAsync();
        var shown = double.Parse((await result.GetAttributeAsync("data-dog-probability"))!, CultureInfo.InvariantCulture);
        Assert.Equal(trained.Classifier!.Predict(photo).DogProbability, shown, 3);
        Assert.Contains($"P(dog) = {trained.Classifier.Predict(photo).DogProbability.ToString("F3", CultureInfo.InvariantCulture)}", await result.Locator(".probability").InnerTextAsync(), StringComparison.Ordinal);
        var overlay = result.Locator("img.photo");
        Assert.True(await overlay.EvaluateAsync<int>("img => img.complete ? img.naturalWidth : 0") > 0 || await WaitLoaded(overlay) > 0);
        Assert.StartsWith("data:image/png;base64,", await overlay.GetAttributeAsync("src"), StringComparison.Ordinal);

        // The toggle shows the photo, then the overlay again; the "About this model" panel names the backbone.
        await result.Locator("button.toggle").ClickAsync();
        Assert.StartsWith("blob:", await overlay.GetAttributeAsync("src"), StringComparison.Ordinal);
        await page.Locator("#about summary").ClickAsync();
        await page.Locator("#model-info dd").First.WaitForAsync();
        Assert.Contains("resnet18", await page.Locator("#model-info").InnerTextAsync(), StringComparison.Ordinal);
        AssertNoConsoleErrors();
    }

    [HarnessFact]
    public async Task TheCamera_TakesASnapshot_WhosePDogIsTheServersForTheSameBytes()
    {
        var page = await Page();

        // Keep a copy of every photo the page uploads, as the bytes it sends.
        await page.EvaluateAsync("""
            () => {
              const send = window.fetch;
              window.uploaded = [];
              window.fetch = async (url, init) => {
                if (init && init.body instanceof FormData) {
                  for (const file of init.body.getAll("file")) window.uploaded.push(Array.from(new Uint8Array(await file.arrayBuffer())));
                }
                return send(url, init);
              };
            }
            """);
        await page.ClickAsync("#camera-start");
        await page.WaitForFunctionAsync("() => document.getElementById('camera-video').videoWidth > 0");
        await page.ClickAsync("#camera-snap");
        var result = page.Locator(".result[data-dog-probability]");
        await result.WaitForAsync();
        Assert.StartsWith("camera-", await result.Locator(".name").InnerTextAsync(), StringComparison.Ordinal);
        var shown = double.Parse((await result.GetAttributeAsync("data-dog-probability"))!, CultureInfo.InvariantCulture);

        // The snapshot, sent again to /api/predict and scored by the library: the page shows the same P(dog).
        var snapshot = Assert.Single(await page.EvaluateAsync<int[][]>("() => window.uploaded")).Select(b => (byte)b).ToArray();
        Assert.Equal([0x89, 0x50, 0x4E, 0x47], snapshot[..4]); // a lossless PNG of the frame: exactly the pixels the page saw
        using var client = new HttpClient { BaseAddress = _server!.Address, Timeout = TimeSpan.FromSeconds(60) };
        using var form = new MultipartFormDataContent { { new ByteArrayContent(snapshot), "file", "snapshot.png" } };
        using var response = await client.PostAsync("/api/predict", form);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        using var json = System.Text.Json.JsonDocument.Parse(body);
        var server = json.RootElement.GetProperty("results")[0].GetProperty("dogProbability").GetDouble();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"camera snapshot of {snapshot.Length:N0} bytes: page P(dog) {shown:F6}, server {server:F6}"));
        Assert.Equal(server, shown, 6);
        Assert.Equal(trained.Classifier!.Predict(snapshot).DogProbability, shown, 6);
        AssertNoConsoleErrors();
    }

    [HarnessFact]
    public async Task TwentyPhotos_GiveTwentyResults_ABadFileShowsItsReason_AndThePageStaysUsable()
    {
        var page = await Page();
        var photos = trained.Test!.Shuffle(5).Take(20).Select(p => p.Path).ToArray();
        await page.SetInputFilesAsync("#files", photos);
        await page.WaitForFunctionAsync("() => document.querySelectorAll('.result[data-dog-probability]').length === 20", null, new PageWaitForFunctionOptions { Timeout = 120_000 });
        Assert.Equal(20, await page.Locator(".result").CountAsync());

        var text = _dir.File("notes.jpg");
        File.WriteAllText(text, "shopping list: cat food");
        await page.SetInputFilesAsync("#files", text);
        var error = page.Locator(".result .error:not([hidden])");
        await error.WaitForAsync();
        Assert.Contains("not an image", await error.InnerTextAsync(), StringComparison.Ordinal);
        Assert.True(await page.Locator(".result:has(.error:not([hidden])) .bar").IsHiddenAsync(), "a photo that was not scored shows no P(dog) bar");

        await page.SetInputFilesAsync("#files", photos[0]);
        await page.WaitForFunctionAsync("() => document.querySelectorAll('.result[data-dog-probability]').length === 21");
        Assert.Equal("21 photo(s) scored, 1 not scored.", await page.Locator("#status").InnerTextAsync());
        Directory.CreateDirectory(Path.Combine(TestEnvironment.RepositoryRoot, "TestResults"));
        var screenshot = Path.Combine(TestEnvironment.RepositoryRoot, "TestResults", "web-page.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot });
        output.WriteLine($"screenshot: {screenshot}");

        // The browser logs the bad file's 422 itself (the answer the page shows); nothing else may be logged.
        var expected = Assert.Single(_consoleErrors, e => e.Contains("status of 422", StringComparison.Ordinal));
        Assert.Contains("/api/explain", expected, StringComparison.Ordinal);
        _consoleErrors.Remove(expected);
        AssertNoConsoleErrors();
    }

    [HarnessFact]
    public async Task TheReports_OpenInChromium_WithEveryPictureLoaded_AndNoConsoleError()
    {
        var photos = new ImageDataset(trained.Test!.Shuffle(7).Take(40));
        using var explainer = trained.Classifier!.CreateExplainer();
        var pages = new[]
        {
            trained.Classifier.Evaluate(photos).WriteHtml(Directory.CreateDirectory(_dir.File("eval")).FullName, explainer),
            TrainingReport.Write(trained.Classifier.Training!, Directory.CreateDirectory(_dir.File("train")).FullName),
            DatasetAudit.Run(photos, new AuditOptions { Features = new FeatureOptions { ModelsDirectory = TestEnvironment.SharedModelsDirectory } })
                .WriteTo(Directory.CreateDirectory(_dir.File("audit")).FullName),
        };
        var browser = await _browser!.NewPageAsync();
        browser.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                _consoleErrors.Add($"{message.Text} at {message.Location}");
            }
        };
        browser.PageError += (_, error) => _consoleErrors.Add(error);
        foreach (var page in pages)
        {
            await browser.GotoAsync(new Uri(page).AbsoluteUri);
            var images = await browser.Locator("img").CountAsync();
            var loaded = await browser.EvaluateAsync<int>("() => Promise.all([...document.images].map(i => i.decode().then(() => i.naturalWidth > 0 ? 1 : 0, () => 0))).then(r => r.reduce((a, b) => a + b, 0))");
            output.WriteLine($"{Path.GetFileName(Path.GetDirectoryName(page))}/report.html: {loaded} of {images} pictures loaded");
            Assert.True(images > 0, $"{page} shows no picture");
            Assert.Equal(images, loaded);
        }

        AssertNoConsoleErrors();
    }

    [HarnessFact]
    public async Task OnAPhoneSizedScreen_TheResultStaysInTheViewport_AndTheControlsAreReachableByKeyboard()
    {
        var page = await Page(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 390, Height = 844 }, IsMobile = true, HasTouch = true });
        await page.SetInputFilesAsync("#files", trained.Test![1].Path);
        var result = page.Locator(".result[data-dog-probability]");
        await result.WaitForAsync();
        var width = await result.EvaluateAsync<double>("e => e.getBoundingClientRect().right");
        Assert.True(width <= 390, $"the result card ends at x = {width}, beyond the 390 px screen");

        // Tab reaches the drop zone, the camera button and the result's toggle; Enter on the toggle shows the photo.
        var focused = new List<string>();
        for (var i = 0; i < 20 && !focused.Contains("toggle"); i++)
        {
            await page.Keyboard.PressAsync("Tab");
            focused.Add(await page.EvaluateAsync<string>("() => document.activeElement.id || document.activeElement.className"));
        }

        output.WriteLine("tab order: " + string.Join(", ", focused));
        Assert.Contains("files", focused);
        Assert.Contains("camera-start", focused);
        Assert.Contains("toggle", focused);
        var toggle = result.Locator("button.toggle");
        Assert.Equal("true", await toggle.GetAttributeAsync("aria-pressed"));
        await page.Keyboard.PressAsync("Enter");
        Assert.Equal("false", await toggle.GetAttributeAsync("aria-pressed"));
        Assert.StartsWith("blob:", await result.Locator("img.photo").GetAttributeAsync("src"), StringComparison.Ordinal);
        AssertNoConsoleErrors();
    }

    private void AssertNoConsoleErrors() => Assert.True(_consoleErrors.Count == 0, "console errors: " + string.Join("\n", _consoleErrors));

    private async Task<IPage> Page(BrowserNewPageOptions? options = null)
    {
        var page = await _browser!.NewPageAsync(options);
        page.SetDefaultTimeout(60_000);
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                _consoleErrors.Add($"{message.Text} at {message.Location}");
            }
        };
        page.PageError += (_, error) => _consoleErrors.Add(error);
        await page.GotoAsync(_server!.Address.ToString());
        return page;
    }

    private static async Task<int> WaitLoaded(ILocator image)
    {
        await image.Page.WaitForFunctionAsync("img => img.complete && img.naturalWidth > 0", await image.ElementHandleAsync());
        return await image.EvaluateAsync<int>("img => img.naturalWidth");
    }

    // A real dog photo as the fake camera's video: an MJPEG file is JPEG frames one after another.
    private string CameraFile()
    {
        var photo = Path.Combine(TestEnvironment.DataDirectory, "dog.2.jpg");
        using var bitmap = SKBitmap.Decode(photo);
        using var frame = bitmap.Resize(new SKImageInfo(640, 480), new SKSamplingOptions(SKFilterMode.Linear));
        using var data = frame.Encode(SKEncodedImageFormat.Jpeg, 90);
        var jpeg = data.ToArray();
        var path = _dir.File("camera.mjpeg");
        using var file = File.Create(path);
        for (var i = 0; i < 30; i++)
        {
            file.Write(jpeg);
        }

        return path;
    }
}
