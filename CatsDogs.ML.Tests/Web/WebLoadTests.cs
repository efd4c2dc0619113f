using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Xunit;
using Xunit.Abstractions;

namespace CatsDogs.ML.Tests.Web;

/// <summary>The web app under load on a real local server (bounded to 60 s), with the tiny model.</summary>
[Collection("tiny model")]
[Trait("Category", Category.Unit)]
public class WebLoadTests(TinyModel tiny, ITestOutputHelper output)
{
    [Theory]
    [InlineData(8)]
    [InlineData(2)]
    public async Task ThreeHundredRequests_FromEightClients_NoServerError_AndEveryAnswerIsTheLibrarys(int limit)
    {
        await using var server = await WebServer.StartAsync("--model", tiny.ModelPath, "--models-dir", tiny.ModelsDirectory, "--max-concurrent", limit.ToString(System.Globalization.CultureInfo.InvariantCulture), "--max-queued", limit.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var photos = Directory.GetFiles(tiny.PhotosDirectory).Order(StringComparer.Ordinal).Select(p => (Name: Path.GetFileName(p), Bytes: File.ReadAllBytes(p))).ToArray();
        var expected = photos.ToDictionary(p => p.Name, p => tiny.Classifier.Predict(p.Bytes).DogProbability);
        using var client = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(30) };
        var statuses = new ConcurrentBag<int>();
        var wrong = new ConcurrentBag<string>();
        var next = -1;
        var clock = Stopwatch.StartNew();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var clients = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < 300)
            {
                var photo = photos[i % photos.Length];
                using var form = WebApiTests.Form([photo]);
                using var response = await client.PostAsync(i % 4 == 0 ? "api/explain" : "api/predict", form, deadline.Token);
                statuses.Add((int)response.StatusCode);
                if (response.IsSuccessStatusCode)
                {
                    var p = JsonDocument.Parse(await response.Content.ReadAsStringAsync(deadline.Token)).RootElement.GetProperty("results")[0].GetProperty("dogProbability").GetSingle();
                    if (p != expected[photo.Name])
                    {
                        wrong.Add($"{photo.Name}: {p} instead of {expected[photo.Name]}");
                    }
                }
            }
        }, deadline.Token)).ToArray();
        await Task.WhenAll(clients);
        var counts = statuses.GroupBy(s => s).OrderBy(g => g.Key).Select(g => $"{g.Key} × {g.Count()}");
        output.WriteLine($"limit {limit}: 300 requests in {clock.Elapsed.TotalSeconds:F1} s: {string.Join(", ", counts)}");
        Assert.Equal(300, statuses.Count);
        Assert.Empty(wrong);
        Assert.All(statuses, s => Assert.True(s is 200 or 429, $"status {s}"));
        if (limit == 8)
        {
            Assert.All(statuses, s => Assert.Equal(200, s));
        }
        else
        {
            Assert.Contains(429, statuses);
        }
    }
}
