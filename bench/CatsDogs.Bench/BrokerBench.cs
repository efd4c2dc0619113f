using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using CatsDogs.ML;
using CatsDogs.ML.Data;
using CatsDogs.ML.RabbitMQ;

namespace CatsDogs.Bench;

/// <summary>
/// The broker path (docs/broker.md): what RabbitMQ itself costs, with a worker that answers without scoring, and
/// photos/s with 1, 2 and 3 real <c>catsdogs worker</c> processes on this machine, beside one process scoring the
/// same photos. Needs a broker: --broker or $CATSDOGS_BROKER.
/// </summary>
internal static class BrokerBench
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static int Run(string uri, string data, int count, int messages)
    {
        var broker = new BrokerOptions(uri).Validate();
        Console.WriteLine($"Broker path — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, broker {broker} on this machine.");
        Console.WriteLine();
        Console.WriteLine("| measure | value | note |");
        Console.WriteLine("|---|---:|---|");
        NoOp(broker, messages);

        var all = ImageDataset.FromFolder(data).Shuffle(seed: 11);
        var photos = all.Skip(200).Take(count).ToArray();
        using var work = new TempFolder();
        var model = Path.Combine(work.Path, "model.zip");
        using (var classifier = new CatsDogsTrainer(new CatsDogsOptions { UseCache = false }).Train(ImageDataset.FromFiles(all.Take(200).Select(p => p.Path))))
        {
            classifier.Save(model);
            classifier.PredictMany(photos.Take(8)); // warm-up
            var clock = Stopwatch.StartNew();
            var local = classifier.PredictMany(photos);
            Row($"one process, PredictMany (no broker), {count} photos, ResNet18, default views", $"{local.Count / clock.Elapsed.TotalSeconds:F1} photos/s", "no cache: every photo decoded and run");
        }

        foreach (var workers in new[] { 1, 2, 3 })
        {
            var run = Workers(broker, model, photos, new int?[workers]);
            Row($"{workers} worker process{(workers > 1 ? "es" : "")} (default concurrency {broker.EffectiveConcurrency} each), {photos.Length} photos, scatter → gather",
                $"{run.PhotosPerSecond:F1} photos/s", $"{run.Summary}; all on this machine's {Environment.ProcessorCount} cores");
        }

        return 0;
    }

    // A worker that answers at once: scatter's publish rate and the whole round trip, broker and client only.
    private static void NoOp(BrokerOptions broker, int messages)
    {
        var target = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("catsdogs bench no-op")));
        var job = "bench-noop-" + Guid.NewGuid().ToString("N")[..8];
        var photos = Enumerable.Range(0, messages).Select(i => new ImageEntry($"/bench/no-op/{i}.jpg")).ToArray();
        using var stop = new CancellationTokenSource();
        var worker = Task.Run(() => WorkerLoop.RunAsync(new NoOpHandler(target), broker, TextWriter.Null, stop.Token));
        var clock = Stopwatch.StartNew();
        var gather = Task.Run(() => JobCollector.CollectAsync(job, broker, null, TimeSpan.FromMinutes(10), null, default));
        var scatterClock = Stopwatch.StartNew();
        BrokerJobs.PublishAsync(photos, job, JobKind.Score, target, inline: false, broker, null, default).GetAwaiter().GetResult();
        var scatter = scatterClock.Elapsed.TotalSeconds;
        var collected = gather.GetAwaiter().GetResult();
        var total = clock.Elapsed.TotalSeconds;
        stop.Cancel();
        worker.GetAwaiter().GetResult();
        Row($"scatter: {messages} persistent messages, each confirmed", $"{messages / scatter:F0} msg/s", "publisher confirms, quorum queue");
        Row($"round trip with a no-op worker (scatter → worker → result → gather journal-less), {messages} messages", $"{collected.Results.Count / total:F0} msg/s",
            $"the broker path's own ceiling; {broker.EffectiveConcurrency} at once, prefetch {broker.EffectivePrefetch}");
    }

    /// <summary>
    /// Starts one <c>catsdogs worker</c> process per entry of <paramref name="cores"/> (pinned to that core with
    /// <c>taskset -c</c>, or free where null), waits until each consumes, scatters <paramref name="photos"/> as one job
    /// and gathers it; the workers are stopped however it ends.
    /// </summary>
    /// <returns>Photos gathered per second from the first publish, and what the gather counted.</returns>
    internal static (double PhotosPerSecond, string Summary) Workers(BrokerOptions broker, string model, IReadOnlyList<ImageEntry> photos, IReadOnlyList<int?> cores)
    {
        var processes = cores.Select(core => StartWorker(broker, model, core)).ToList();
        try
        {
            foreach (var (process, stderr) in processes)
            {
                var waited = Stopwatch.StartNew();
                while (!stderr().Contains("consuming", StringComparison.Ordinal))
                {
                    if (waited.Elapsed > TimeSpan.FromSeconds(120) || process.HasExited)
                    {
                        throw new InvalidOperationException($"a worker did not start: {stderr()}");
                    }

                    Thread.Sleep(50);
                }
            }

            var job = $"bench-{cores.Count}w-" + Guid.NewGuid().ToString("N")[..8];
            var clock = Stopwatch.StartNew();
            var gather = Task.Run(() => BrokerJobs.GatherAsync(job, broker, timeout: TimeSpan.FromMinutes(15)));
            BrokerJobs.ScatterAsync(photos, job, model, inline: false, broker).GetAwaiter().GetResult();
            var result = gather.GetAwaiter().GetResult();
            var seconds = clock.Elapsed.TotalSeconds;
            return (result.Predictions.Count / seconds, $"{result.Predictions.Scored.Count} scored, {result.Predictions.Skipped.Count} skipped, {result.Duplicates} duplicates");
        }
        finally
        {
            foreach (var (process, _) in processes)
            {
                if (!process.HasExited)
                {
                    using var term = Process.Start("kill", $"-TERM {process.Id}");
                    term.WaitForExit();
                }

                if (!process.WaitForExit(60_000))
                {
                    process.Kill(entireProcessTree: true);
                }

                process.Dispose();
            }
        }
    }

    // With a core, under `taskset -c core`: the worker and every thread it starts run on that core only (.NET and ONNX
    // Runtime then see one processor).
    private static (Process Process, Func<string> Stderr) StartWorker(BrokerOptions broker, string model, int? core)
    {
        var start = new ProcessStartInfo(core is null ? "dotnet" : "taskset") { RedirectStandardError = true, RedirectStandardOutput = true };
        var pin = core is { } c ? new[] { "-c", c.ToString(Invariant), "dotnet" } : [];
        foreach (var a in pin.Concat([BuiltProgram.Find(Path.Combine("samples", "CatsDogs.Cli"), "catsdogs.dll"), "worker", "--model", model, "--broker", broker.Uri]))
        {
            start.ArgumentList.Add(a);
        }

        var process = Process.Start(start)!;
        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            lock (stderr)
            {
                stderr.AppendLine(e.Data);
            }
        };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        return (process, () =>
        {
            lock (stderr)
            {
                return stderr.ToString();
            }
        });
    }

    private static void Row(string measure, string value, string note) => Console.WriteLine($"| {measure} | {value} | {note} |");

    private sealed class NoOpHandler(string target) : IWorkHandler
    {
        public JobKind Kind => JobKind.Score;

        public string Target => target;

        public WorkResult Handle(WorkOrder order, ReadOnlyMemory<byte> body, string worker) =>
            new(order.Job, order.Id, order.Path, target, worker) { DogProbability = 0.5f };
    }
}
