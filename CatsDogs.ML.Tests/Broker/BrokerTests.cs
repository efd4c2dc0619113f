using System.Globalization;
using CatsDogs.ML.Data;
using CatsDogs.ML.Features;
using CatsDogs.ML.RabbitMQ;
using RabbitMQ.Client;
using Xunit;
using Xunit.Abstractions;

namespace CatsDogs.ML.Tests.Broker;

/// <summary>
/// Scatter, workers and gather against the real broker (<see cref="TestBroker"/>), as separate <c>catsdogs</c>
/// processes: three workers score 300 real photos and three junk files, and the gathered CSV must equal
/// single-machine scoring whatever happens in between (a worker killed, the broker restarted, poison messages).
/// One class, so its tests run one after the other: one of them restarts the whole broker.
/// </summary>
[Trait("Category", Category.Harness)]
[Collection("broker")]
public sealed class BrokerTests(BrokerJobFixture fixture, ITestOutputHelper output) : IClassFixture<BrokerJobFixture>
{
    private static readonly TimeSpan JobTimeout = TimeSpan.FromMinutes(4);

    [BrokerFact]
    public void ThreeWorkers_GatherTheSameCsvAsSingleMachinePredict_AndShareTheWork()
    {
        using var broker = new TestBroker();
        var job = fixture.Job;
        var workers = StartWorkers(broker, 3);
        try
        {
            var scatter = CliProcess.Run(JobTimeout, "scatter", job.Photos, "--job", "all-up", "--model", job.Model, "--broker", broker.Uri);
            Assert.True(scatter.ExitCode == 0, scatter.Stderr);
            var (csv, stderr) = Gather(broker, "all-up");
            AssertSameAsReference(csv, stderr);

            var summaries = StopGracefully(workers);
            Assert.Equal(job.Listed, summaries.Sum(s => s.Done));
            Assert.All(summaries, s => Assert.True(s.Done > 0, $"a worker got no photo: {string.Join(", ", summaries)}"));
            Assert.Equal(job.Reference.Skipped.Count, summaries.Sum(s => s.Unusable));
        }
        finally
        {
            workers.ForEach(w => w.Dispose());
        }
    }

    [BrokerFact]
    public void WorkerKilledMidJob_EveryPhotoStillAnsweredExactlyOnce()
    {
        using var broker = new TestBroker();
        var job = fixture.Job;
        var workers = StartWorkers(broker, 3);
        try
        {
            Assert.Equal(0, CliProcess.Run(JobTimeout, "scatter", job.Photos, "--job", "kill", "--model", job.Model, "--broker", broker.Uri).ExitCode);
            using var gather = StartGather(broker, "kill", out var csvPath);
            WaitForJournal(csvPath, lines: 40, gather);
            CliProcess.Signal(workers[0].Process, "KILL");
            Assert.True(workers[0].Process.WaitForExit(10_000), "SIGKILL did not end the worker");
            var left = QueueLength(broker, job.Model);
            output.WriteLine($"killed worker 1 with {left} photos still queued");
            Assert.True(left > 0, "the job was over before the kill: it proves nothing");

            Assert.True(gather.WaitForExit(JobTimeout) == 0, gather.Stderr);
            AssertSameAsReference(File.ReadAllText(csvPath), gather.Stderr);
            output.WriteLine(gather.Stderr.Split('\n').Last(l => l.StartsWith("Scored", StringComparison.Ordinal)));
            StopGracefully(workers.Skip(1).ToList());
        }
        finally
        {
            workers.ForEach(w => w.Dispose());
        }
    }

    [BrokerFact]
    public void BrokerRestartedMidJob_WorkersAndGatherReconnect_NothingLostOrDuplicated()
    {
        using var broker = new TestBroker();
        var job = fixture.Job;
        var workers = StartWorkers(broker, 2);
        try
        {
            Assert.Equal(0, CliProcess.Run(JobTimeout, "scatter", job.Photos, "--job", "restart", "--model", job.Model, "--broker", broker.Uri).ExitCode);
            using var gather = StartGather(broker, "restart", out var csvPath);
            WaitForJournal(csvPath, lines: 40, gather);
            var before = File.ReadAllLines(csvPath + ".journal.jsonl").Length;
            TestBroker.Restart(down: TimeSpan.FromSeconds(3));
            output.WriteLine($"broker restarted with {before - 1} of {job.Listed} answers gathered");
            Assert.True(before - 1 < job.Listed, "the job was over before the restart: it proves nothing");

            Assert.True(gather.WaitForExit(JobTimeout) == 0, gather.Stderr);
            AssertSameAsReference(File.ReadAllText(csvPath), gather.Stderr);
            Assert.All(workers, w => Assert.False(w.Process.HasExited, $"a worker died with the broker: {w.Stderr}"));
            StopGracefully(workers);
        }
        finally
        {
            workers.ForEach(w => w.Dispose());
        }
    }

    [BrokerFact]
    public async Task PoisonMessages_AreDeadLetteredAndReportedAsSkipped()
    {
        using var broker = new TestBroker();
        var job = fixture.Job;
        var options = new BrokerOptions(broker.Uri);
        var model = await BrokerWorker.ModelSha256Async(job.Model);
        var queue = Topology.ScoreQueue(model);
        var photos = Directory.GetFiles(job.Photos, "dog.*").Order(StringComparer.Ordinal).Take(3).ToArray();
        var factory = new ConnectionFactory { Uri = new Uri(broker.Uri) };
        await using (var connection = await factory.CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true)))
        {
            await Topology.DeclareWorkAsync(channel, queue, options.MaxDeliveries, default);
            await Topology.DeclareJobAsync(channel, "poison", default);

            // Photo 2 fails every worker that takes it: this test plays those workers and hands it back each time.
            await Publish(channel, queue, new WorkOrder("poison", 2, photos[2], false, JobKind.Score, model) { Roots = [job.Photos] });
            var returns = 0;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (await channel.MessageCountAsync(Topology.Dead("poison")) == 0)
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"not dead-lettered after {returns} returns");
                if (await channel.BasicGetAsync(queue, autoAck: false) is { } delivery)
                {
                    await channel.BasicNackAsync(delivery.DeliveryTag, multiple: false, requeue: true);
                    returns++;
                }
                else
                {
                    await Task.Delay(50);
                }
            }

            output.WriteLine($"photo 2 dead-lettered after {returns} returns (limit {options.MaxDeliveries})");
            Assert.Equal(options.MaxDeliveries + 1, returns);

            // Photo 1's order is damaged: no worker can read it. Photo 0 is fine. Then the manifest.
            var damaged = Messages.Persistent("poison", 1, "application/x-empty");
            damaged.Headers = new Dictionary<string, object?> { [Messages.OrderHeader] = "{ not json"u8.ToArray() };
            await channel.BasicPublishAsync(Topology.WorkExchange, Topology.RoutingKey(queue, "poison"), true, damaged, ReadOnlyMemory<byte>.Empty);
            await Publish(channel, queue, new WorkOrder("poison", 0, photos[0], false, JobKind.Score, model) { Roots = [job.Photos] });
            await channel.BasicPublishAsync(string.Empty, Topology.Control("poison"), true, Messages.Persistent("poison", -1, "application/json"),
                Messages.Bytes(new JobManifest("poison", JobKind.Score, 3, model, [])));
        }

        using var worker = CliProcess.Start("worker", "--model", job.Model, "--broker", broker.Uri, "--models-dir", TestEnvironment.SharedModelsDirectory);
        var result = await BrokerJobs.GatherAsync("poison", options, timeout: JobTimeout);
        var skipped = result.Predictions.Skipped.ToDictionary(s => s.Image.Path, s => s.Reason);
        output.WriteLine(string.Join("\n", skipped.Select(s => $"{s.Key}: {s.Value}")));
        Assert.Equal(photos[0], Assert.Single(result.Predictions.Scored).Image.Path);
        Assert.Contains("failed or stopped every worker", skipped[photos[2]], StringComparison.Ordinal);
        Assert.Contains("refused its message as unreadable", skipped.Single(s => s.Key.Contains("poison/1", StringComparison.Ordinal)).Value, StringComparison.Ordinal);
        CliProcess.Signal(worker.Process, "TERM");
        Assert.Equal(0, worker.WaitForExit(TimeSpan.FromSeconds(60)));
        Assert.Contains("rejected message 'poison/1'", worker.Stderr, StringComparison.Ordinal);
    }

    [BrokerFact]
    public void TrainWithBroker_WorkersComputeTheFeatures_AndTheModelEqualsSingleMachineTraining()
    {
        using var broker = new TestBroker();
        var work = fixture.Job.Work;
        var folder = Directory.CreateDirectory(work.File("train-" + Guid.NewGuid().ToString("N")[..6])).FullName;
        foreach (var photo in Directory.GetFiles(fixture.Job.Photos, "cat.*").Order(StringComparer.Ordinal).Take(40).Concat(Directory.GetFiles(fixture.Job.Photos, "dog.*").Order(StringComparer.Ordinal).Take(40)))
        {
            File.Copy(photo, Path.Combine(folder, Path.GetFileName(photo)));
        }

        File.WriteAllText(Path.Combine(folder, "cat.999999.jpg"), "labelled, but not a photo");
        var workers = Enumerable.Range(0, 2)
            .Select(_ => CliProcess.Start("worker", "--backbones", "resnet18", "--views", "native", "--broker", broker.Uri, "--concurrency", "1"))
            .ToList();
        try
        {
            workers.ForEach(w => w.WaitForStderr("consuming catsdogs.features.", TimeSpan.FromSeconds(90)));
            var remote = CliProcess.Run(JobTimeout, "train", folder, "--out", work.File("remote.zip"), "--views", "native", "--cache", work.File("remote-cache"),
                "--broker", broker.Uri, "--timeout", "240");
            Assert.True(remote.ExitCode == 0, remote.Stderr);
            Assert.Contains("Workers answered 81 photos", remote.Stderr, StringComparison.Ordinal);
            Assert.Contains("(80 stored, 1 unusable", remote.Stderr, StringComparison.Ordinal);
            Assert.Contains("0 left for training to compute", remote.Stderr, StringComparison.Ordinal);
            Assert.Contains("precision fp32", remote.Stderr, StringComparison.Ordinal);
            Assert.Equal(Precisions.CpuHasInt8DotProduct, remote.Stderr.Contains("with --broker the model is fp32", StringComparison.Ordinal));
            // Broker training is fp32 (the workers compute float32 features): the single machine trains fp32 too.
            var local = CliProcess.Run(JobTimeout, "train", folder, "--out", work.File("local.zip"), "--views", "native", "--cache", work.File("local-cache"), "--precision", "fp32");
            Assert.True(local.ExitCode == 0, local.Stderr);

            // The workers filled the cache with exactly what local extraction writes, so the two models are one.
            var remoteCache = Directory.GetFiles(work.File("remote-cache"), "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(work.File("remote-cache"), f)).Order().ToArray();
            var localCache = Directory.GetFiles(work.File("local-cache"), "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(work.File("local-cache"), f)).Order().ToArray();
            Assert.Equal(80, remoteCache.Length);
            Assert.Equal(localCache, remoteCache);
            Assert.All(remoteCache, f => Assert.Equal(File.ReadAllBytes(Path.Combine(work.File("local-cache"), f)), File.ReadAllBytes(Path.Combine(work.File("remote-cache"), f))));
            using var a = CatsDogsClassifier.Load(work.File("remote.zip"), useCache: false);
            using var b = CatsDogsClassifier.Load(work.File("local.zip"), useCache: false);
            var photos = ImageDataset.FromFolder(fixture.Job.Photos);
            Assert.Equal(b.PredictMany(photos).Scored.Select(p => p.DogProbability), a.PredictMany(photos).Scored.Select(p => p.DogProbability));
            StopGracefully(workers);
        }
        finally
        {
            workers.ForEach(w => w.Dispose());
        }
    }

    private static async Task Publish(IChannel channel, string queue, WorkOrder order)
    {
        var properties = Messages.Persistent(order.Job, order.Id, "application/x-empty");
        properties.Headers = new Dictionary<string, object?> { [Messages.OrderHeader] = Messages.Bytes(order) };
        await channel.BasicPublishAsync(Topology.WorkExchange, Topology.RoutingKey(queue, order.Job), true, properties, ReadOnlyMemory<byte>.Empty);
    }

    private List<CliProcess.Background> StartWorkers(TestBroker broker, int count)
    {
        var workers = Enumerable.Range(0, count)
            .Select(_ => CliProcess.Start("worker", "--model", fixture.Job.Model, "--broker", broker.Uri, "--concurrency", "1", "--models-dir", TestEnvironment.SharedModelsDirectory))
            .ToList();
        foreach (var worker in workers)
        {
            worker.WaitForStderr("consuming catsdogs.score.", TimeSpan.FromSeconds(90));
        }

        return workers;
    }

    private static List<WorkerSummary> StopGracefully(List<CliProcess.Background> workers)
    {
        workers.ForEach(w => CliProcess.Signal(w.Process, "TERM"));
        return workers.Select(w =>
        {
            Assert.True(w.WaitForExit(TimeSpan.FromSeconds(90)) == 0, $"SIGTERM should stop a worker cleanly: {w.Stderr}");
            return System.Text.Json.JsonSerializer.Deserialize<WorkerSummary>(w.Stdout, new System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerDefaults.Web))!;
        }).ToList();
    }

    private CliProcess.Background StartGather(TestBroker broker, string name, out string csv)
    {
        csv = fixture.Job.Work.File($"{name}.csv");
        return CliProcess.Start("gather", "--job", name, "--out", csv, "--broker", broker.Uri, "--timeout", JobTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture));
    }

    private (string Csv, string Stderr) Gather(TestBroker broker, string name)
    {
        using var gather = StartGather(broker, name, out var csv);
        Assert.True(gather.WaitForExit(JobTimeout + TimeSpan.FromSeconds(30)) == 0, gather.Stderr);
        return (File.ReadAllText(csv), gather.Stderr);
    }

    // Waits until gather has journaled this many answers, so that what follows happens mid-job.
    private static void WaitForJournal(string csv, int lines, CliProcess.Background gather)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var journal = csv + ".journal.jsonl";
        while (!File.Exists(journal) || File.ReadAllLines(journal).Length < lines)
        {
            Assert.True(clock.Elapsed < JobTimeout && !gather.Process.HasExited, $"gather journaled fewer than {lines} answers in time: {gather.Stderr}");
            Thread.Sleep(50);
        }
    }

    private static uint QueueLength(TestBroker broker, string model)
    {
        var hash = BrokerWorker.ModelSha256Async(model).GetAwaiter().GetResult();
        var factory = new ConnectionFactory { Uri = new Uri(broker.Uri) };
        using var connection = factory.CreateConnectionAsync().GetAwaiter().GetResult();
        using var channel = connection.CreateChannelAsync().GetAwaiter().GetResult();
        return channel.MessageCountAsync(Topology.ScoreQueue(hash)).GetAwaiter().GetResult();
    }

    private void AssertSameAsReference(string csv, string stderr)
    {
        var reference = fixture.Job.Reference;
        var rows = GatheredOutput.Rows(csv);
        Assert.Equal(reference.Scored.Select(s => s.Image.Path), rows.Select(r => r.Path)); // each photo once, in predict's order
        for (var i = 0; i < rows.Count; i++)
        {
            Assert.True(Math.Abs(rows[i].DogProbability - reference.Scored[i].DogProbability) <= 1e-6 + 5e-7,
                $"{rows[i].Path}: gathered {rows[i].DogProbability}, predict {reference.Scored[i].DogProbability}");
        }

        Assert.Equal(reference.Skipped.Select(s => $"skipped: {s.Image.Path}: {s.Reason}"), GatheredOutput.Skipped(stderr));
        Assert.Contains($"Scored {reference.Scored.Count}, skipped {reference.Skipped.Count}, listed {reference.Count}", stderr, StringComparison.Ordinal);
    }
}
