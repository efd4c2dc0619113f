using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using CatsDogs.ML.Data;
using CatsDogs.ML.Training;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using SkiaSharp;
using Xunit;

namespace CatsDogs.ML.Tests.Web;

/// <summary>Every status code of the web app's API, through WebApplicationFactory, on the tiny model.</summary>
[Collection("tiny model")]
[Trait("Category", Category.Unit)]
public sealed class WebApiTests(TinyModel tiny) : IDisposable
{
    private readonly List<IDisposable> _factories = [];

    [Fact]
    public async Task Predict_ManyPhotos_AnswersEachInOrder_WithTheLibrarysProbability_AndABadOneInline()
    {
        using var client = Client();
        var photos = Directory.GetFiles(tiny.PhotosDirectory).Order(StringComparer.Ordinal).Take(3).ToArray();
        using var content = Form(photos.Select(p => (Path.GetFileName(p), File.ReadAllBytes(p))).Append(("notes.jpg", "shopping list"u8.ToArray())));
        using var response = await client.PostAsync("/api/predict", content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var items = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(4, items.Length);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(Path.GetFileName(photos[i]), items[i].GetProperty("name").GetString());
            var p = tiny.Classifier.Predict(File.ReadAllBytes(photos[i])).DogProbability;
            Assert.Equal(p, items[i].GetProperty("dogProbability").GetSingle());
            Assert.Equal(p >= 0.5f ? "dog" : "cat", items[i].GetProperty("label").GetString());
        }

        Assert.Contains("not an image", items[3].GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(422, items[3].GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task ModelWithoutALinearHead_ServesPredict_AndRefusesExplainAndTheBrowserModel_AsProblems()
    {
        var dir = TestEnvironment.NewTempDirectory();
        _factories.Add(dir);
        var modelPath = Path.Combine(dir.Path, "lightgbm.zip");
        using (var trained = new CatsDogsTrainer(tiny.Options with { HeadKind = HeadKind.LightGbm }).Train(ImageDataset.FromFolder(tiny.PhotosDirectory)))
        {
            trained.Save(modelPath);
        }

        using var client = Client(("model", modelPath));
        var photo = Path.Combine(tiny.PhotosDirectory, "dog.3.png");
        using var predict = await client.PostAsync("/api/predict", Form([("dog.3.png", File.ReadAllBytes(photo))]));
        Assert.Equal(HttpStatusCode.OK, predict.StatusCode);
        using var loaded = CatsDogsClassifier.Load(modelPath, new ModelLoadOptions { ModelsDirectory = tiny.ModelsDirectory, UseCache = false });
        var expected = loaded.Predict(File.ReadAllBytes(photo)).DogProbability;
        Assert.Equal(expected, JsonDocument.Parse(await predict.Content.ReadAsStringAsync()).RootElement.GetProperty("results")[0].GetProperty("dogProbability").GetSingle());

        using var model = await client.GetAsync("/api/model");
        Assert.False(JsonDocument.Parse(await model.Content.ReadAsStringAsync()).RootElement.GetProperty("heatmaps").GetBoolean());
        foreach (var response in new[] { await client.PostAsync("/api/explain", Form([("dog.3.png", File.ReadAllBytes(photo))])), await client.GetAsync("/model.onnx") })
        {
            using (response)
            {
                Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                Assert.Contains("lightgbm", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task Explain_AddsAnOverlayPng_AndThePeak()
    {
        using var client = Client();
        var photo = Path.Combine(tiny.PhotosDirectory, "cat.2.png");
        using var response = await client.PostAsync("/api/explain", Form([("cat.2.png", File.ReadAllBytes(photo))]));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var item = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("results")[0];
        var overlay = item.GetProperty("overlay").GetString()!;
        Assert.StartsWith("data:image/png;base64,", overlay, StringComparison.Ordinal);
        using var png = SKBitmap.Decode(Convert.FromBase64String(overlay["data:image/png;base64,".Length..]));
        Assert.Equal((item.GetProperty("width").GetInt32(), item.GetProperty("height").GetInt32()), (png.Width, png.Height));
        Assert.InRange(item.GetProperty("peak").GetProperty("x").GetInt32(), 0, png.Width - 1);
        Assert.Equal("tiny", item.GetProperty("backbones")[0].GetProperty("name").GetString());
    }

    [Theory]
    [InlineData("not a photo", 422)]
    [InlineData("over the size limit", 413)]
    [InlineData("too many photos", 413)]
    [InlineData("no photo", 400)]
    [InlineData("not a form", 400)]
    public async Task Limits_AnswerWithAJsonError_NeverA500(string what, int status)
    {
        using var client = Client(("max-photo-bytes", "5000"), ("max-photos", "3"));
        var photo = File.ReadAllBytes(Path.Combine(tiny.PhotosDirectory, "dog.1.png"));
        HttpContent content = what switch
        {
            "not a photo" => Form([("x.jpg", "this is not a photo"u8.ToArray())]),
            "over the size limit" => Form([("big.png", new byte[6000])]),
            "too many photos" => Form(Enumerable.Range(0, 4).Select(i => ($"p{i}.png", photo))),
            "no photo" => new MultipartFormDataContent { { new StringContent("x"), "other" } },
            _ => new StringContent("{}", System.Text.Encoding.UTF8, "application/json"),
        };
        using (content)
        {
            using var response = await client.PostAsync("/api/predict", content);
            Assert.Equal(status, (int)response.StatusCode);
            var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal(JsonValueKind.Object, body.ValueKind);
            if (body.TryGetProperty("results", out var results))
            {
                // Photos that could not be scored, each with its reason.
                Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
                Assert.False(string.IsNullOrWhiteSpace(results[0].GetProperty("error").GetString()));
            }
            else
            {
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                Assert.Equal(status, body.GetProperty("status").GetInt32());
                Assert.False(string.IsNullOrWhiteSpace(body.GetProperty("detail").GetString()));
            }
        }
    }

    [Fact]
    public async Task AllScoringSlotsBusy_Get429_WithRetryAfter_AsProblemDetails()
    {
        var factory = Factory(("max-concurrent", "1"), ("max-queued", "0"));
        using var client = factory.CreateClient();
        var photo = File.ReadAllBytes(Path.Combine(tiny.PhotosDirectory, "dog.1.png"));

        // The test holds the only slot, as a request being scored would; no request may wait.
        using (var held = await factory.Services.GetRequiredService<CatsDogs.Web.ScoringSlots>().TakeAsync(CancellationToken.None))
        {
            Assert.True(held.IsAcquired);
            using var refused = await client.PostAsync("/api/predict", Form([("quick.png", photo)]));
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.Equal("1", refused.Headers.RetryAfter?.ToString());
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
            Assert.Contains("requests at once", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using var answered = await client.PostAsync("/api/predict", Form([("quick.png", photo)]));
        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
    }

    [Fact]
    public async Task ARequestPastTheSlots_WaitsInTheQueue_AndIsScored_OrGets429WhenItsWaitRunsOut()
    {
        var factory = Factory(("max-concurrent", "1"), ("max-queued", "1"), ("queue-timeout", "1"));
        using var client = factory.CreateClient();
        var photo = File.ReadAllBytes(Path.Combine(tiny.PhotosDirectory, "dog.1.png"));
        var slots = factory.Services.GetRequiredService<CatsDogs.Web.ScoringSlots>();

        // Held past the queue timeout: the waiting request is refused after about its second.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using (var held = await slots.TakeAsync(CancellationToken.None))
        {
            using var refused = await client.PostAsync("/api/predict", Form([("late.png", photo)]));
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.Equal("1", refused.Headers.RetryAfter?.ToString());
            Assert.InRange(clock.Elapsed.TotalSeconds, 0.9, 30);
        }

        // Freed within the timeout: the waiting request is scored, not refused.
        var slot = await slots.TakeAsync(CancellationToken.None);
        var waiting = client.PostAsync("/api/predict", Form([("queued.png", photo)]));
        await Task.Delay(200);
        Assert.False(waiting.IsCompleted, "the request waits for the slot");
        slot.Dispose();
        using var answered = await waiting.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
    }

    [Fact]
    public async Task ASlowUpload_HoldsNoScoringSlot()
    {
        // A real server: its request bodies stream, so a slow upload is really in flight while the other is scored.
        await using var server = await WebServer.StartAsync("--model", tiny.ModelPath, "--models-dir", tiny.ModelsDirectory, "--max-concurrent", "1");
        using var client = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(60) };
        var photo = File.ReadAllBytes(Path.Combine(tiny.PhotosDirectory, "dog.1.png"));

        var gate = new TaskCompletionSource();
        using var slow = new MultipartFormDataContent { { new SlowContent(photo, gate.Task), "file", "slow.png" } };
        var first = client.PostAsync("/api/predict", slow);
        await Task.Delay(200);
        using var second = await client.PostAsync("/api/predict", Form([("quick.png", photo)]));
        gate.SetResult();
        using var firstResponse = await first.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(HttpStatusCode.OK, firstResponse.StatusCode);
    }

    [Fact]
    public async Task Help_ListsEveryOptionTheAppReads_AndExitsWithCode0()
    {
        var (code, stdout, _) = await RunApp("--help");
        Assert.Equal(0, code);
        Assert.All(CatsDogs.Web.WebOptions.Definitions, o => Assert.Contains($"--{o.Key} {o.Value}", stdout, StringComparison.Ordinal));
        Assert.Contains("--max-concurrent", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadyCheck_SaysReady_WithTheBackboneCount()
    {
        using var client = Client();
        var ready = JsonDocument.Parse(await client.GetStringAsync("/health/ready")).RootElement;
        Assert.Equal("ready", ready.GetProperty("status").GetString());
        Assert.Equal(tiny.Classifier.Backbones.Count, ready.GetProperty("backbones").GetInt32());
    }

    [Fact]
    public async Task ModelHealthAndPage_AnswerWithSecurityHeaders()
    {
        using var client = Client();
        var model = JsonDocument.Parse(await client.GetStringAsync("/api/model")).RootElement;
        Assert.Equal("tiny", model.GetProperty("backbones")[0].GetProperty("name").GetString());
        Assert.Equal(["native", "native+mirror"], model.GetProperty("views").EnumerateArray().Select(v => v.GetString())); // the tiny model's
        Assert.Equal(24, model.GetProperty("training").GetProperty("photos").GetInt32());
        using var ready = await client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        using var page = await client.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("Cat or dog?", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("nosniff", page.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal(CatsDogs.Web.WebApp.ContentSecurityPolicy, page.Headers.GetValues("Content-Security-Policy").Single());
        Assert.DoesNotContain("'unsafe-inline'", CatsDogs.Web.WebApp.ContentSecurityPolicy, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithoutAModel_TheAppSaysSo_AndExitsWithCode1()
    {
        var (code, _, stderr) = await RunApp("--urls", "http://127.0.0.1:0");
        Assert.Equal(1, code);
        Assert.Contains("--model model.zip", stderr, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        foreach (var factory in _factories)
        {
            factory.Dispose();
        }
    }

    // The app as its own process (bounded to 30 s): exit code, stdout, stderr.
    private static async Task<(int Code, string Stdout, string Stderr)> RunApp(params string[] args)
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "CatsDogs.Web.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    private HttpClient Client(params (string Key, string Value)[] settings) => Factory(settings).CreateClient();

    private WebApplicationFactory<Program> Factory(params (string Key, string Value)[] settings)
    {
        var factory = TestWebApp.Serving(tiny.ModelPath, tiny.ModelsDirectory, settings);
        _factories.Add(factory);
        return factory;
    }

    internal static MultipartFormDataContent Form(IEnumerable<(string Name, byte[] Bytes)> files)
    {
        var form = new MultipartFormDataContent();
        foreach (var (name, bytes) in files)
        {
            var part = new ByteArrayContent(bytes);
            part.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            form.Add(part, "file", name);
        }

        return form;
    }

    // A body that sends its bytes only once the test lets it.
    private sealed class SlowContent(byte[] bytes, Task release) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(bytes.AsMemory(0, 10));
            await stream.FlushAsync();
            await release;
            await stream.WriteAsync(bytes.AsMemory(10));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = bytes.Length;
            return true;
        }
    }
}
