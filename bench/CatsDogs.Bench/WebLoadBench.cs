using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using CatsDogs.ML;
using CatsDogs.ML.Data;
using SkiaSharp;

namespace CatsDogs.Bench;

/// <summary>
/// The web app under load (README "Web app"): the app as its own process on 127.0.0.1, a ResNet18 model (default
/// views), real photos posted to <c>/api/predict</c> one per request by 1, 2, 4 and 8 concurrent clients; prints
/// requests/s, p50 and p95 latency and the status codes (429s are the concurrency limit answering, not failures).
/// </summary>
internal static class WebLoadBench
{
    public static int Run(string data, int requests)
    {
        var all = ImageDataset.FromFolder(data).Shuffle(seed: 13);
        using var work = new TempFolder();
        var model = TrainModel(all, work.Path);
        var photos = all.Skip(200).Take(64).Select(p => File.ReadAllBytes(p.Path)).ToArray();
        using var app = RunningApp.Start(model, TimeSpan.FromMinutes(2));
        var client = app.Client;
        Console.WriteLine($"Web app under load — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores; ResNet18 with the default views; POST /api/predict, one photo a request; the app's limit is {Environment.ProcessorCount} concurrent requests.");
        Console.WriteLine();
        Console.WriteLine("| concurrent clients | requests | requests/s | p50 | p95 | answers |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---|");
        Load(client, photos, 1, 8); // warm-up
        foreach (var clients in new[] { 1, 2, 4, 8, 50 })
        {
            var (rate, p50, p95, statuses) = Load(client, photos, clients, requests);
            Console.WriteLine($"| {clients} | {requests} | {rate:F1} | {p50 * 1000:F0} ms | {p95 * 1000:F0} ms | {string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Value} × {(int)s.Key}"))} |");
        }

        return 0;
    }

    /// <summary>
    /// The worst photos of issue 22 on <c>/api/explain</c>: single-colour PNGs of 8000 × 8000 (the most pixels the
    /// decoder reads, reduced while decoded) and 2048 × 2048 (the largest decoded whole), alone and eight in one
    /// request, then 8 clients at once;
    /// prints each latency, the status codes and the app's peak resident memory (VmHWM).
    /// </summary>
    public static int Worst(string data)
    {
        var all = ImageDataset.FromFolder(data).Shuffle(seed: 13);
        using var work = new TempFolder();
        var model = TrainModel(all, work.Path);
        var huge = FlatPng(8000, 8000);
        var large = FlatPng(2048, 2048);
        using var app = RunningApp.Start(model, TimeSpan.FromMinutes(5));
        var client = app.Client;
        Console.WriteLine($"Web app, worst photos — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores; ResNet18 with the default views; POST /api/explain; the app's limit is {Environment.ProcessorCount} concurrent requests.");
        Console.WriteLine();
        var ordinary = File.ReadAllBytes(all[^1].Path);
        Explain(client, [ordinary], Environment.ProcessorCount, 4 * Environment.ProcessorCount); // warm-up, as many at once as the app scores
        Console.WriteLine($"After loading the model and explaining ordinary photos, {Environment.ProcessorCount} at once: resident memory {PeakMegabytes(app.Process.Id, "VmRSS")} MB (peak {PeakMegabytes(app.Process.Id)} MB).");
        Console.WriteLine();
        Console.WriteLine("| request | clients | answers | latency (median / max) |");
        Console.WriteLine("|---|---:|---|---:|");
        Explain(client, [huge], 1, 1); // warm-up
        foreach (var (what, photos, clients) in new (string, byte[][], int)[]
        {
            ($"one 8000 × 8000 flat PNG ({huge.Length / 1024} KB)", [huge], 1),
            ($"one 2048 × 2048 flat PNG ({large.Length / 1024} KB)", [large], 1),
            ("eight 8000 × 8000 flat PNGs in one request", Enumerable.Repeat(huge, 8).ToArray(), 1),
            ("one 8000 × 8000 flat PNG", [huge], 8),
            ("one 2048 × 2048 flat PNG", [large], 8),
            ("eight 8000 × 8000 flat PNGs in one request", Enumerable.Repeat(huge, 8).ToArray(), 8),
        })
        {
            var (latencies, statuses) = Explain(client, photos, clients, 3 * clients);
            Console.WriteLine($"| {what} | {clients} | {string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Value} × {(int)s.Key}"))} | {latencies[latencies.Count / 2]:F2} s / {latencies[^1]:F2} s |");
        }

        Console.WriteLine();
        Console.WriteLine($"The app's peak resident memory (VmHWM): {PeakMegabytes(app.Process.Id)} MB; now (VmRSS): {PeakMegabytes(app.Process.Id, "VmRSS")} MB.");
        return 0;
    }

    private static string TrainModel(ImageDataset all, string dir)
    {
        var model = Path.Combine(dir, "model.zip");
        using var classifier = new CatsDogsTrainer().Train(ImageDataset.FromFiles(all.Take(200).Select(p => p.Path)));
        classifier.Save(model);
        return model;
    }

    private static (List<double> Latencies, Dictionary<HttpStatusCode, int> Statuses) Explain(HttpClient client, byte[][] photos, int clients, int requests)
    {
        var latencies = new List<double>();
        var statuses = new Dictionary<HttpStatusCode, int>();
        var next = -1;
        Parallel.For(0, clients, new ParallelOptions { MaxDegreeOfParallelism = clients }, _ =>
        {
            while (Interlocked.Increment(ref next) < requests)
            {
                using var form = new MultipartFormDataContent();
                for (var i = 0; i < photos.Length; i++)
                {
                    form.Add(new ByteArrayContent(photos[i]), "file", $"worst{i}.png");
                }

                var sent = Stopwatch.StartNew();
                using var response = client.PostAsync("api/explain", form).GetAwaiter().GetResult();
                response.Content.ReadAsByteArrayAsync().GetAwaiter().GetResult();
                lock (latencies)
                {
                    latencies.Add(sent.Elapsed.TotalSeconds);
                    statuses[response.StatusCode] = statuses.GetValueOrDefault(response.StatusCode) + 1;
                }
            }
        });
        latencies.Sort();
        return (latencies, statuses);
    }

    // A single-colour PNG: a few hundred KB that decode to width × height pixels.
    private static byte[] FlatPng(int width, int height)
    {
        using var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        bitmap.Erase(new SKColor(200, 120, 40));
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    private static long PeakMegabytes(int pid, string field = "VmHWM") => Program.StatusMiB(pid, field);

    // `clients` concurrent clients post `requests` photos in all, one a request, to /api/predict; latencies in seconds.
    internal static (double Rate, double P50, double P95, Dictionary<HttpStatusCode, int> Statuses) Load(HttpClient client, byte[][] photos, int clients, int requests)
    {
        var latencies = new List<double>();
        var statuses = new Dictionary<HttpStatusCode, int>();
        var next = -1;
        var clock = Stopwatch.StartNew();
        Parallel.For(0, clients, new ParallelOptions { MaxDegreeOfParallelism = clients }, _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < requests)
            {
                using var form = new MultipartFormDataContent();
                var file = new ByteArrayContent(photos[i % photos.Length]);
                file.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
                form.Add(file, "file", $"photo{i}.jpg");
                var sent = Stopwatch.StartNew();
                using var response = client.PostAsync("api/predict", form).GetAwaiter().GetResult();
                response.Content.ReadAsByteArrayAsync().GetAwaiter().GetResult();
                lock (latencies)
                {
                    latencies.Add(sent.Elapsed.TotalSeconds);
                    statuses[response.StatusCode] = statuses.GetValueOrDefault(response.StatusCode) + 1;
                }
            }
        });
        var seconds = clock.Elapsed.TotalSeconds;
        latencies.Sort();
        return (requests / seconds, latencies[latencies.Count / 2], latencies[(int)(latencies.Count * 0.95)], statuses);
    }

    /// <summary>
    /// The web app as its own process on 127.0.0.1 serving a model, ready (<c>/health/ready</c> answered within 120 s),
    /// with a client on it; disposing kills it with its children, however the bench ends.
    /// </summary>
    internal sealed class RunningApp : IDisposable
    {
        private RunningApp(Process process, HttpClient client) => (Process, Client) = (process, client);

        public Process Process { get; }

        public HttpClient Client { get; }

        /// <summary>The app's base address, <c>http://127.0.0.1:PORT/</c>.</summary>
        public string Address => Client.BaseAddress!.ToString();

        public static RunningApp Start(string model, TimeSpan requestTimeout)
        {
            int port;
            using (var listener = new TcpListener(IPAddress.Loopback, 0))
            {
                listener.Start();
                port = ((IPEndPoint)listener.LocalEndpoint).Port;
            }

            var dll = BuiltProgram.Find(Path.Combine("samples", "CatsDogs.Web"), "CatsDogs.Web.dll");
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetDirectoryName(dll)! };
            foreach (var a in new[] { dll, "--model", model, "--urls", $"http://127.0.0.1:{port}" })
            {
                start.ArgumentList.Add(a);
            }

            var process = Process.Start(start)!;
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var app = new RunningApp(process, new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = requestTimeout });
            try
            {
                app.WaitReady();
                return app;
            }
            catch
            {
                app.Dispose();
                throw;
            }
        }

        public void Dispose()
        {
            Client.Dispose();
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree: true);
                Process.WaitForExit(10_000);
            }

            Process.Dispose();
        }

        private void WaitReady()
        {
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(120) && !Process.HasExited)
            {
                try
                {
                    if (Client.GetAsync("health/ready").GetAwaiter().GetResult().IsSuccessStatusCode)
                    {
                        return;
                    }
                }
                catch (HttpRequestException)
                {
                }

                Thread.Sleep(200);
            }

            throw new InvalidOperationException("The web app did not become ready within 120 s.");
        }
    }
}
