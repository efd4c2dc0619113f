using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using CatsDogs.ML.RabbitMQ;
using RabbitMQ.Client;
using Xunit;
using Xunit.Abstractions;

namespace CatsDogs.ML.Tests.Broker;

/// <summary>All broker tests, one after the other: one of them restarts the broker, which others would feel.</summary>
[CollectionDefinition("broker")]
public sealed class BrokerCollection
{
}

/// <summary>
/// What an attacker who can publish to the broker tries (issue 22), on the real broker with real <c>catsdogs</c>
/// processes and the tiny synthetic model: orders naming files outside the job, malformed and oversize messages, a
/// forged manifest, two gathers of one job. Every process is bounded by a timeout.
/// </summary>
[Trait("Category", Category.Harness)]
[Collection("broker")]
public sealed class HostileBrokerTests(TinyModel tiny, ITestOutputHelper output) : IClassFixture<TinyModel>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    // What the 0600 file starts with: no answer may carry any of it, in any encoding.
    private static readonly byte[] Secret = "SECRET!!do-not-leak-this"u8.ToArray();

    [BrokerFact]
    public async Task PathOrders_OutsideTheJobsFolders_AreRefusedIdentically_WithNoByteOfTheFile()
    {
        using var broker = new TestBroker();
        using var work = TestEnvironment.NewTempDirectory();
        var job = Directory.CreateDirectory(work.File("job")).FullName;
        var secrets = Directory.CreateDirectory(work.File("secret")).FullName;
        var hidden = Directory.CreateDirectory(work.File("home/.ssh")).FullName;
        File.Copy(Path.Combine(tiny.PhotosDirectory, "dog.1.png"), Path.Combine(job, "dog.1.png"));
        var shadow = Path.Combine(secrets, "shadow");
        File.WriteAllBytes(shadow, Secret);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(shadow, UnixFileMode.UserRead | UnixFileMode.UserWrite); // 0600, like /etc/shadow or a private key
        }

        File.WriteAllBytes(Path.Combine(hidden, "id_rsa"), Secret);
        File.CreateSymbolicLink(Path.Combine(job, "cat.9.png"), shadow);     // a link inside the job to a file outside
        Directory.CreateSymbolicLink(Path.Combine(job, "more"), secrets);     // a folder link inside the job
        var model = await BrokerWorker.ModelSha256Async(tiny.ModelPath);
        string[] roots = [job];

        // Each refused order, with the folders its job claims: all must get the same answer, whatever the file.
        var refused = new (string Path, string[] Roots)[]
        {
            (shadow, roots),                                        // a 0600 file outside the job
            ("/proc/self/environ", roots),                          // the worker's environment
            (Path.Combine(job, "cat.9.png"), roots),                // a symlink in the job's folder pointing outside
            (Path.Combine(job, "more", "shadow"), roots),           // through a folder link
            (job + "/../secret/shadow", roots),                     // '..' out of the job's folder
            (secrets, roots),                                       // a folder outside
            (Path.Combine(secrets, "missing.png"), roots),          // a file that does not exist, outside
            ("/nonexistent-catsdogs/photo.jpg", roots),             // nor does its folder
            ("/etc/passwd", ["/"]),                                 // forged roots: the whole file system
            ("/proc/self/environ", ["/proc"]),                      // forged roots: a system folder
            (Path.Combine(hidden, "id_rsa"), [hidden]),             // forged roots: a hidden folder
        };
        await using var connection = await Connect(broker);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        await Topology.DeclareJobAsync(channel, "paths", default);
        using (var worker = StartWorker(broker))
        {
            for (var id = 0; id < refused.Length; id++)
            {
                await Publish(channel, model, new WorkOrder("paths", id, refused[id].Path, false, JobKind.Score, model) { Roots = refused[id].Roots });
            }

            // Controls: a photo in the job is scored, and a missing one there gets the library's own reason.
            await Publish(channel, model, new WorkOrder("paths", 100, Path.Combine(job, "dog.1.png"), false, JobKind.Score, model) { Roots = roots });
            await Publish(channel, model, new WorkOrder("paths", 101, Path.Combine(job, "missing.png"), false, JobKind.Score, model) { Roots = roots });
            var answers = await Answers(channel, "paths", refused.Length + 2);
            Assert.True(answers[100].Result.DogProbability is > 0.5f, $"the photo in the job was not scored: {answers[100].Json}");
            Assert.Equal("the file does not exist.", answers[101].Result.Error);

            var shapes = new HashSet<string>();
            for (var id = 0; id < refused.Length; id++)
            {
                var (result, json) = answers[id];
                output.WriteLine($"{refused[id].Path}: {result.Error}");
                Assert.Equal(PathPolicy.Refusal, result.Error);
                Assert.Null(result.DogProbability);
                AssertNoSecret(json);
                var shape = JsonNode.Parse(json)!.AsObject();
                shape.Remove("id");
                shape.Remove("path");
                shapes.Add(shape.ToJsonString());
            }

            Assert.Single(shapes); // one answer, whether the file exists, is a folder, a link, or nothing at all
            AssertNoSecret(worker.Stderr);
            Stop(worker);
        }

        // A worker with --allow reads there only: roots an order claims count for nothing.
        using (var worker = StartWorker(broker, "--allow", job))
        {
            await Publish(channel, model, new WorkOrder("paths", 0, shadow, false, JobKind.Score, model) { Roots = [secrets] });
            await Publish(channel, model, new WorkOrder("paths", 1, Path.Combine(job, "dog.1.png"), false, JobKind.Score, model) { Roots = [secrets] });
            var answers = await Answers(channel, "paths", 2);
            Assert.Equal(PathPolicy.Refusal, answers[0].Result.Error);
            AssertNoSecret(answers[0].Json);
            Assert.True(answers[1].Result.DogProbability is > 0.5f, answers[1].Json);
            Stop(worker);
        }
    }

    [BrokerFact]
    public async Task MalformedAndOversizeOrders_AreDeadLetteredAtOnceAndLogged_AndWorkGoesOn_EvenAfterTheConnectionDrops()
    {
        using var broker = new TestBroker();
        var model = await BrokerWorker.ModelSha256Async(tiny.ModelPath);
        var queue = Topology.ScoreQueue(model);
        var photo = Path.Combine(tiny.PhotosDirectory, "cat.1.png");
        string[] roots = [tiny.PhotosDirectory];
        await using var connection = await Connect(broker);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        await Topology.DeclareWorkAsync(channel, queue, 3, default);
        await Topology.DeclareJobAsync(channel, "ok", default);
        await channel.QueueDeclareAsync("dead-watch", durable: false, exclusive: false, autoDelete: false);
        await channel.QueueBindAsync("dead-watch", Topology.DeadExchange, "#");

        var longJob = new string('j', 300);
        var malformed = new List<(WorkOrder? Order, byte[]? Header, byte[] Body, string Logged)>
        {
            (new WorkOrder(longJob, 0, photo, false, JobKind.Score, model) { Roots = roots }, null, [], "(300 characters) is not 1–64"),
            (new WorkOrder(longJob, 1, photo, false, JobKind.Score, model) { Roots = roots }, null, [], "(300 characters) is not 1–64"),
            (new WorkOrder("ok", -1, photo, false, JobKind.Score, model) { Roots = roots }, null, [], "photo id -1 is outside"),
            (new WorkOrder("ok", 0, photo, false, JobKind.Score, "zz") { Roots = roots }, null, [], "target 'zz' is not a SHA-256"),
            (new WorkOrder("ok", 0, "photo.png", false, JobKind.Score, model) { Roots = roots }, null, [], "path 'photo.png' is not a full path"),
            (new WorkOrder("ok", 0, photo, false, JobKind.Score, model), null, [], "a path order without 1–16 full folder paths"),
            (new WorkOrder("ok", 0, photo, false, JobKind.Score, model) { Roots = roots }, null, new byte[10], "a path order has none"),
            (null, "{ not json"u8.ToArray(), [], "is not a work order"),
            (new WorkOrder("ok", 0, photo, true, JobKind.Score, model), null, new byte[100_000_000], "its body is 100,000,000 bytes; a photo message holds at most 67,108,864"),
        };
        foreach (var (order, header, body, _) in malformed)
        {
            var properties = new BasicProperties { Persistent = true, MessageId = "bad", Headers = new Dictionary<string, object?> { [Messages.OrderHeader] = header ?? Messages.Bytes(order!) } };
            await channel.BasicPublishAsync(Topology.WorkExchange, queue + ".bad", true, properties, body);
        }

        await Publish(channel, model, new WorkOrder("ok", 0, photo, false, JobKind.Score, model) { Roots = roots });

        // Prefetch 2: two unreadable orders held for ever would starve this worker, as they did.
        using var worker = StartWorker(broker, "--prefetch", "2");
        Assert.Null((await Answers(channel, "ok", 1))[0].Result.Error);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (await channel.MessageCountAsync("dead-watch") < malformed.Count)
        {
            Assert.True(clock.Elapsed < Timeout, $"{await channel.MessageCountAsync("dead-watch")} of {malformed.Count} dead-lettered: {worker.Stderr}");
            await Task.Delay(100);
        }

        Assert.Equal(0u, await channel.MessageCountAsync(queue));
        var rejections = worker.Stderr.Split('\n').Where(l => l.Contains("rejected message", StringComparison.Ordinal)).ToArray();
        output.WriteLine(string.Join('\n', rejections));
        Assert.Equal(malformed.Count, rejections.Length);
        Assert.All(malformed, m => Assert.Contains(rejections, line => line.Contains(m.Logged, StringComparison.Ordinal)));
        Assert.All(rejections, line => Assert.True(line.Length < 600, $"a log line quoting the whole message: {line.Length} characters"));

        // The connection drops (the broker closes it): the cause is logged at once, and the worker comes back.
        TestBroker.Ctl("close_all_connections", "-p", broker.VirtualHost, "test closes the connections");
        worker.WaitForStderr("lost the broker: ", Timeout);
        clock.Restart();
        while (worker.Stderr.Split("consuming catsdogs.score.").Length < 3)
        {
            Assert.True(clock.Elapsed < Timeout && !worker.Process.HasExited, $"the worker did not connect again: {worker.Stderr}");
            await Task.Delay(100);
        }

        await using var again = await Connect(broker);
        await using var channel2 = await again.CreateChannelAsync(new CreateChannelOptions(true, true));
        await Publish(channel2, model, new WorkOrder("ok", 1, photo, false, JobKind.Score, model) { Roots = roots });
        Assert.Null((await Answers(channel2, "ok", 1))[1].Result.Error);
        var summary = Stop(worker);
        Assert.Equal(malformed.Count, summary.Rejected);
        Assert.Equal(2, summary.Done);
    }

    [BrokerFact]
    public void Scatter_PhotoOverTheInlineLimit_IsSkippedWithItsReason_AndALimitOverTheMessageSizeIsRefused()
    {
        using var broker = new TestBroker();
        using var work = TestEnvironment.NewTempDirectory();
        var folder = Directory.CreateDirectory(work.File("photos")).FullName;
        File.Copy(Path.Combine(tiny.PhotosDirectory, "cat.1.png"), Path.Combine(folder, "cat.1.png"));
        File.WriteAllBytes(Path.Combine(folder, "cat.2.jpg"), new byte[5000]);
        var scatter = CliProcess.Run(Timeout, "scatter", folder, "--job", "big", "--model", tiny.ModelPath, "--inline", "--max-inline-bytes", "4096", "--broker", broker.Uri);
        Assert.True(scatter.ExitCode == 0, scatter.Stderr);
        var skipped = Assert.Single(GatheredOutput.Skipped(scatter.Stderr));
        Assert.StartsWith($"skipped: {Path.Combine(folder, "cat.2.jpg")}: ", skipped, StringComparison.Ordinal);
        Assert.Contains("the inline limit", skipped, StringComparison.Ordinal);
        Assert.Contains("Published 1 photos", scatter.Stderr, StringComparison.Ordinal);

        var over = CliProcess.Run(Timeout, "scatter", folder, "--job", "bigger", "--model", tiny.ModelPath, "--inline", "--max-inline-bytes", "100000000", "--broker", broker.Uri);
        Assert.Equal(1, over.ExitCode);
        Assert.Contains("error: The inline photo limit must be 1 byte to 64 MiB", over.Stderr, StringComparison.Ordinal);
    }

    [BrokerFact]
    public async Task ForgedManifests_WithTotalMinusOneOrZero_AreRefused_AndGatherDoesNotComplete()
    {
        using var broker = new TestBroker();
        using var work = TestEnvironment.NewTempDirectory();
        var model = await BrokerWorker.ModelSha256Async(tiny.ModelPath);
        await using (var connection = await Connect(broker))
        await using (var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true)))
        {
            await Topology.DeclareJobAsync(channel, "forged", default);
            foreach (var total in new[] { -1, 0 })
            {
                await channel.BasicPublishAsync(string.Empty, Topology.Control("forged"), true, Messages.Persistent("forged", -1, "application/json"),
                    Messages.Bytes(new JobManifest("forged", JobKind.Score, total, model, [])));
            }
        }

        var csv = work.File("forged.csv");
        var gather = CliProcess.Run(Timeout, "gather", "--job", "forged", "--out", csv, "--timeout", "5", "--broker", broker.Uri);
        output.WriteLine(gather.Stderr);
        Assert.Equal(1, gather.ExitCode);
        Assert.Contains("has no manifest after 5 s", gather.Stderr, StringComparison.Ordinal);
        Assert.Contains("counts -1 photos, outside 1", gather.Stderr, StringComparison.Ordinal);
        Assert.Contains("counts 0 photos, outside 1", gather.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(csv), "gather wrote a CSV for a job it never saw");
    }

    [BrokerFact]
    public async Task SecondGather_SameOrOtherOut_IsRefusedWithOneLineNamingTheFirst_AndNoAnswerIsLost()
    {
        using var broker = new TestBroker();
        using var work = TestEnvironment.NewTempDirectory();
        var listed = Directory.GetFiles(tiny.PhotosDirectory).Length;
        var scatter = CliProcess.Run(Timeout, "scatter", tiny.PhotosDirectory, "--job", "own", "--model", tiny.ModelPath, "--broker", broker.Uri);
        Assert.True(scatter.ExitCode == 0, scatter.Stderr);

        var first = work.File("first.csv");
        using var gather = CliProcess.Start("gather", "--job", "own", "--out", first, "--timeout", "120", "--broker", broker.Uri);
        await using (var connection = await Connect(broker))
        await using (var channel = await connection.CreateChannelAsync())
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (await channel.ConsumerCountAsync(Topology.Control("own")) == 0)
            {
                Assert.True(clock.Elapsed < Timeout && !gather.Process.HasExited, $"the first gather never took the job: {gather.Stderr}");
                await Task.Delay(100);
            }
        }

        // The same --out: its journal is locked. Another --out: the job's queues are consumed exclusively.
        foreach (var (csv, says) in new[] { (first, "The journal"), (work.File("second.csv"), "Job 'own' is already being gathered") })
        {
            var second = CliProcess.Run(Timeout, "gather", "--job", "own", "--out", csv, "--timeout", "60", "--broker", broker.Uri);
            output.WriteLine(second.Stderr);
            Assert.Equal(1, second.ExitCode);
            var line = Assert.Single(second.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("error: " + says, line, StringComparison.Ordinal);
            Assert.Contains($"pid {gather.Process.Id}, journal {first}.journal.jsonl", line, StringComparison.Ordinal);
        }

        Assert.False(File.Exists(work.File("second.csv")) || File.Exists(work.File("second.csv.journal.jsonl")), "the refused gather left files");
        using (var worker = StartWorker(broker))
        {
            Assert.True(gather.WaitForExit(Timeout) == 0, gather.Stderr);
            Stop(worker);
        }

        var rows = GatheredOutput.Rows(File.ReadAllText(first));
        Assert.Equal(Directory.GetFiles(tiny.PhotosDirectory).Order(StringComparer.Ordinal), rows.Select(r => r.Path).Order(StringComparer.Ordinal));
        Assert.Contains($"Scored {listed}, skipped 0, listed {listed}", gather.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(first + ".journal.jsonl.lock"), "the lock file outlived its gather");
    }

    private static async Task<IConnection> Connect(TestBroker broker) =>
        await new ConnectionFactory { Uri = new Uri(broker.Uri) }.CreateConnectionAsync();

    private static async Task Publish(IChannel channel, string model, WorkOrder order)
    {
        var properties = Messages.Persistent(order.Job, order.Id, "application/x-empty");
        properties.Headers = new Dictionary<string, object?> { [Messages.OrderHeader] = Messages.Bytes(order) };
        await channel.BasicPublishAsync(Topology.WorkExchange, Topology.RoutingKey(Topology.ScoreQueue(model), order.Job), true, properties, ReadOnlyMemory<byte>.Empty);
    }

    // The next answers of a job, by photo id (each answer is taken off the queue).
    private static async Task<Dictionary<long, (WorkResult Result, string Json)>> Answers(IChannel channel, string job, int count)
    {
        var answers = new Dictionary<long, (WorkResult, string)>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (answers.Count < count)
        {
            Assert.True(clock.Elapsed < Timeout, $"{answers.Count} of {count} answers of job {job} within {Timeout.TotalSeconds:F0} s");
            if (await channel.BasicGetAsync(Topology.Results(job), autoAck: true) is { } delivery)
            {
                var result = Messages.Read<WorkResult>(delivery.Body.Span);
                answers[result.Id] = (result, Encoding.UTF8.GetString(delivery.Body.Span));
            }
            else
            {
                await Task.Delay(50);
            }
        }

        return answers;
    }

    private static void AssertNoSecret(string text)
    {
        foreach (var encoding in new[] { Encoding.ASCII.GetString(Secret, 0, 8), Convert.ToHexString(Secret, 0, 8), Convert.ToHexStringLower(Secret, 0, 8),
            string.Join(' ', Secret.Take(8).Select(b => b.ToString("X2", CultureInfo.InvariantCulture))), Convert.ToBase64String(Secret, 0, 6) })
        {
            Assert.DoesNotContain(encoding, text, StringComparison.OrdinalIgnoreCase);
        }
    }

    private CliProcess.Background StartWorker(TestBroker broker, params string[] extra)
    {
        var worker = CliProcess.Start(["worker", "--model", tiny.ModelPath, "--models-dir", tiny.ModelsDirectory, "--broker", broker.Uri, "--concurrency", "1", .. extra]);
        worker.WaitForStderr("consuming catsdogs.score.", Timeout);
        return worker;
    }

    private static WorkerSummary Stop(CliProcess.Background worker)
    {
        CliProcess.Signal(worker.Process, "TERM");
        Assert.True(worker.WaitForExit(Timeout) == 0, $"SIGTERM should stop a worker cleanly: {worker.Stderr}");
        return System.Text.Json.JsonSerializer.Deserialize<WorkerSummary>(worker.Stdout, new System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerDefaults.Web))!;
    }
}
