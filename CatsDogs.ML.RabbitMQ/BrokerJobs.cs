using CatsDogs.ML.Data;
using RabbitMQ.Client;

namespace CatsDogs.ML.RabbitMQ;

/// <summary>What scatter sent.</summary>
/// <param name="Job">The job.</param>
/// <param name="Queue">The work queue the photos wait in (workers of the job's model consume it).</param>
/// <param name="Published">Photos published and confirmed by the broker.</param>
/// <param name="Skipped">Photos not sent, with reasons (gather reports them too).</param>
public sealed record ScatterSummary(string Job, string Queue, int Published, IReadOnlyList<SkippedImage> Skipped);

/// <summary>
/// Jobs on the broker: <see cref="ScatterAsync"/> publishes one message per photo, then the job's manifest;
/// <see cref="GatherAsync"/> collects the answers until every photo is accounted for.
/// </summary>
public static class BrokerJobs
{
    private const int PublishWindow = 512;

    /// <summary>
    /// Publishes one persistent message per photo, ids in <paramref name="photos"/>' order, each confirmed by the
    /// broker, then the job's manifest (how many photos, which model). The photo travels as its path (storage every
    /// worker sees) or, when <paramref name="inline"/>, as the message body, up to <see cref="BrokerOptions.MaxInlineBytes"/>.
    /// </summary>
    /// <param name="photos">The photos, in the order the CSV will list them.</param>
    /// <param name="job">A name for the job: 1–64 letters, digits, '-' or '_'; unused so far.</param>
    /// <param name="modelPath">The model workers must run (its SHA-256 picks their queue).</param>
    /// <param name="inline">Send the photos' bytes instead of their paths.</param>
    /// <param name="broker">The broker.</param>
    /// <param name="progress">Photos published so far.</param>
    /// <param name="cancellationToken">Stops publishing; the job then has no manifest and gather waits for it.</param>
    /// <exception cref="ArgumentException">The job name is not usable, or there is no photo.</exception>
    /// <exception cref="BrokerException">The broker cannot be reached, or the job already exists.</exception>
    public static async Task<ScatterSummary> ScatterAsync(IReadOnlyList<ImageEntry> photos, string job, string modelPath, bool inline, BrokerOptions broker,
        IProgress<CatsDogsProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        Topology.CheckJob(job);
        var target = await BrokerWorker.ModelSha256Async(modelPath, cancellationToken);
        return await PublishAsync(photos, job, JobKind.Score, target, inline, broker, progress, cancellationToken);
    }

    /// <summary>
    /// Collects the answers of a job until every photo is accounted for: scored, unusable with the library's reason,
    /// dead-lettered (it failed or killed <see cref="BrokerOptions.MaxDeliveries"/> workers) or not sent by scatter.
    /// Redelivered answers are counted once; answers from a worker running another model are refused. Each answer is
    /// written to <paramref name="journal"/> before it is acknowledged, so a gather that stops (or is stopped) goes on
    /// where it was when run again. When complete, the job's queues are deleted.
    /// </summary>
    /// <param name="job">The job scatter published.</param>
    /// <param name="broker">The broker.</param>
    /// <param name="journal">A file gather keeps its progress in (JSON lines); null keeps it in memory only.</param>
    /// <param name="timeout">Give up after this long (null: wait as long as it takes).</param>
    /// <param name="progress">Photos accounted for so far.</param>
    /// <param name="cancellationToken">Stops gathering; the journal keeps what was gathered.</param>
    /// <exception cref="BrokerException">The broker cannot be reached, or the job is not complete in time (the message lists what is missing).</exception>
    public static async Task<GatherResult> GatherAsync(string job, BrokerOptions broker, string? journal = null, TimeSpan? timeout = null,
        IProgress<CatsDogsProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var collected = await JobCollector.CollectAsync(job, broker, journal, timeout, progress, cancellationToken);
        if (collected.Manifest.Kind != JobKind.Score)
        {
            throw new BrokerException($"Job '{job}' is a {collected.Manifest.Kind.ToString().ToLowerInvariant()} job; its answers are for the trainer that started it, not a CSV.");
        }

        var scored = new List<(long Id, ImagePrediction Prediction)>();
        var skipped = new List<(long Id, SkippedImage Skipped)>();
        foreach (var (id, result) in collected.Results)
        {
            var image = ImageEntry.FromPath(result.Path);
            if (result.DogProbability is { } p && result.Error is null && float.IsFinite(p))
            {
                scored.Add((id, new ImagePrediction(image, p)));
            }
            else
            {
                skipped.Add((id, new SkippedImage(image, result.Error ?? "the worker's answer held no probability")));
            }
        }

        // A dead letter too damaged to name its photo is still reported, under its place in the job.
        skipped.AddRange(collected.Unanswered.Select(u => (u.Id, new SkippedImage(u.Path is null ? new ImageEntry($"<{job}/{u.Id}: path unknown>") : ImageEntry.FromPath(u.Path), u.Reason))));
        var batch = new BatchPrediction(scored.OrderBy(s => s.Id).Select(s => s.Prediction).ToArray(), skipped.OrderBy(s => s.Id).Select(s => s.Skipped).ToArray());
        return new GatherResult(job, collected.Manifest.Target, batch, collected.Duplicates, collected.Refused);
    }

    /// <summary>
    /// The folders a job's photos lie in, the fewest that hold them all: each photo's folder, less those inside another;
    /// more than <see cref="Messages.MaxRoots"/> become the folder holding them all. Workers read only there.
    /// </summary>
    internal static IReadOnlyList<string> Roots(IReadOnlyList<ImageEntry> photos)
    {
        var comparison = OperatingSystem.IsWindows() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;
        var folders = photos.Select(p => Path.GetDirectoryName(Path.GetFullPath(p.Path))!).Distinct(comparison).Order(comparison).ToList();
        var roots = new List<string>();
        foreach (var folder in folders)
        {
            if (!roots.Any(root => IsInside(folder, root)))
            {
                roots.Add(folder);
            }
        }

        while (roots.Count > Messages.MaxRoots)
        {
            roots = roots.Select(r => Path.GetDirectoryName(r) ?? r).Distinct(comparison).ToList();
            roots = roots.Where(r => !roots.Any(o => !ReferenceEquals(o, r) && IsInside(r, o))).ToList();
        }

        return roots;

        bool IsInside(string folder, string root) =>
            folder.Length > root.Length && folder.StartsWith(root, OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal)
            && (root.EndsWith(Path.DirectorySeparatorChar) || folder[root.Length] == Path.DirectorySeparatorChar);
    }

    internal static async Task<ScatterSummary> PublishAsync(IReadOnlyList<ImageEntry> photos, string job, JobKind kind, string target, bool inline, BrokerOptions broker,
        IProgress<CatsDogsProgress>? progress, CancellationToken token)
    {
        Topology.CheckJob(job);
        broker.Validate();
        if (photos.Count is 0 or > (int)Messages.MaxPhotos)
        {
            throw new ArgumentException($"A job holds 1 to {Messages.MaxPhotos:N0} photos, not {photos.Count:N0}; split a larger library into several jobs.");
        }

        var queue = kind == JobKind.Score ? Topology.ScoreQueue(target) : Topology.FeatureQueue(target);
        await using var connection = await BrokerConnection.OpenAsync(broker, "scatter", token);
        await using var channel = await connection.ConfirmingChannelAsync(token);
        await Topology.DeclareWorkAsync(channel, queue, broker.MaxDeliveries, token);
        await Topology.DeclareJobAsync(channel, job, token);
        if (await channel.MessageCountAsync(Topology.Control(job), token) > 0 || await channel.MessageCountAsync(Topology.Results(job), token) > 0)
        {
            throw new BrokerException($"Job '{job}' already exists on {broker} (its manifest or answers are waiting for gather); gather it, or choose another name.");
        }

        var skipped = new List<SkippedAtScatter>();
        var roots = inline ? null : Roots(photos);
        var pending = new List<Task>(PublishWindow);
        var routingKey = Topology.RoutingKey(queue, job);
        progress?.Report(new CatsDogsProgress("scatter", 0, photos.Count));
        for (var id = 0; id < photos.Count; id++)
        {
            token.ThrowIfCancellationRequested();
            var path = photos[id].Path;
            var body = ReadOnlyMemory<byte>.Empty;
            if (inline)
            {
                try
                {
                    var buffer = Array.Empty<byte>();
                    body = PhotoFile.Read(path, broker.MaxInlineBytes, ref buffer);
                }
                catch (ImageDecodeException e)
                {
                    skipped.Add(new SkippedAtScatter(id, path, e.Reason + (new FileInfo(path) is { Exists: true } f && f.Length > broker.MaxInlineBytes
                        ? " (the inline limit; scatter without --inline so that workers read it from shared storage)" : "")));
                    continue;
                }
            }

            var order = new WorkOrder(job, id, path, inline, kind, target) { Roots = roots };
            var header = Messages.Bytes(order);
            try
            {
                Messages.Check(order); // what a worker would refuse is not sent: it is reported here instead
            }
            catch (FormatException e)
            {
                skipped.Add(new SkippedAtScatter(id, path, $"not sent: {e.Message}."));
                continue;
            }

            if (header.Length > Messages.MaxOrderBytes)
            {
                skipped.Add(new SkippedAtScatter(id, path, $"not sent: its order would be {header.Length:N0} bytes, over the {Messages.MaxOrderBytes:N0} a worker reads."));
                continue;
            }

            var properties = Messages.Persistent(job, id, inline ? "application/octet-stream" : "application/x-empty");
            properties.Headers = new Dictionary<string, object?> { [Messages.OrderHeader] = header };
            pending.Add(channel.BasicPublishAsync(Topology.WorkExchange, routingKey, mandatory: true, properties, body, token).AsTask());
            if (pending.Count == PublishWindow)
            {
                await Task.WhenAll(pending);
                pending.Clear();
                progress?.Report(new CatsDogsProgress("scatter", id + 1, photos.Count));
            }
        }

        await Task.WhenAll(pending);
        var manifest = new JobManifest(job, kind, photos.Count, target, skipped);
        await channel.BasicPublishAsync(string.Empty, Topology.Control(job), mandatory: true, Messages.Persistent(job, -1, "application/json"), Messages.Bytes(manifest), token);
        progress?.Report(new CatsDogsProgress("scatter", photos.Count, photos.Count));
        return new ScatterSummary(job, queue, photos.Count - skipped.Count,
            skipped.Select(s => new SkippedImage(ImageEntry.FromPath(s.Path), s.Reason)).ToArray());
    }
}

/// <summary>A gathered score job.</summary>
/// <param name="Job">The job.</param>
/// <param name="ModelSha256">The model every answer came from.</param>
/// <param name="Predictions">Every photo of the job, scored or skipped with its reason, in scatter's order: the CSV of <c>predict</c>.</param>
/// <param name="Duplicates">Answers received more than once (redeliveries after a worker or the broker went away), counted once.</param>
/// <param name="Refused">Answers refused, each with why (another model, another job, an id outside the job).</param>
public sealed record GatherResult(string Job, string ModelSha256, BatchPrediction Predictions, int Duplicates, IReadOnlyList<string> Refused);
