using CatsDogs.ML.Data;
using System.Diagnostics;
using System.Text.Json;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace CatsDogs.ML.RabbitMQ;

/// <summary>A photo of a job with no answer, and why: dead-lettered, or not sent by scatter.</summary>
/// <param name="Id">Its id in the job.</param>
/// <param name="Path">Its path; null when the message was too damaged to tell.</param>
/// <param name="Reason">Why it has no answer.</param>
internal sealed record Unanswered(long Id, string? Path, string Reason);

/// <summary>Everything a job produced, by id.</summary>
internal sealed record CollectedJob(JobManifest Manifest, IReadOnlyList<(long Id, WorkResult Result)> Results, IReadOnlyList<Unanswered> Unanswered, int Duplicates, IReadOnlyList<string> Refused);

/// <summary>
/// Gathers a job: consumes its results, dead letters and manifest until every photo is accounted for exactly once.
/// Each answer is written to the journal and flushed to disk before it is acknowledged; the manifest stays
/// unacknowledged (so with the broker) until the job is complete, and is journaled too, so a rerun finishes even after
/// the queues are gone. One gather owns a job: it locks its journal (<see cref="JournalLock"/>) and consumes the
/// job's queues exclusively; a second gather of the job is refused, naming the first (<see cref="Topology.Owner"/>).
/// </summary>
internal sealed class JobCollector
{
    private readonly string _job;
    private readonly object _gate = new();
    private readonly Dictionary<long, WorkResult> _results = new();
    private readonly Dictionary<long, Unanswered> _dead = new();
    private readonly List<string> _refused = new();
    private readonly StreamWriter? _journal;
    private readonly FileStream? _journalFile;
    private JobManifest? _manifest;
    private ulong? _manifestTag;
    private int _duplicates;

    private JobCollector(string job, StreamWriter? journal, FileStream? journalFile)
    {
        _job = job;
        _journal = journal;
        _journalFile = journalFile;
    }

    public static async Task<CollectedJob> CollectAsync(string job, BrokerOptions broker, string? journalPath, TimeSpan? timeout,
        IProgress<CatsDogsProgress>? progress, CancellationToken token)
    {
        Topology.CheckJob(job);
        broker.Validate();
        var holder = $"gather of job '{job}' on {Environment.MachineName}, pid {Environment.ProcessId}, " + (journalPath is null ? "journal in memory" : $"journal {Path.GetFullPath(journalPath)}");
        using var held = journalPath is null ? null : JournalLock.Take(journalPath, holder);
        var resumed = journalPath is not null && File.Exists(journalPath);
        var replayed = resumed ? File.ReadAllLines(journalPath!) : [];
        await using var file = journalPath is null ? null : new FileStream(journalPath, FileMode.Append, FileAccess.Write, FileShare.Read);
        await using var journal = file is null ? null : new StreamWriter(file);
        var collector = new JobCollector(job, journal, file);
        collector.Replay(replayed, journalPath);

        await using var connection = await BrokerConnection.OpenAsync(broker, "gather", token);
        await using var channel = await connection.ConsumingChannelAsync(1, token);
        await Topology.DeclareJobAsync(channel, job, token);
        await channel.BasicQosAsync(0, 256, global: false, token);
        try
        {
            // Exclusive: a second gather of the job (another --out, another machine) cannot take a share of its answers.
            await collector.ConsumeAsync(channel, Topology.Results(job), collector.OnResult, token);
            await collector.ConsumeAsync(channel, Topology.Dead(job), collector.OnDead, token);
            await collector.ConsumeAsync(channel, Topology.Control(job), collector.OnManifest, token);
        }
        catch (OperationInterruptedException e) when (e.ShutdownReason?.ReplyCode == 403)
        {
            if (journal is not null && !resumed)
            {
                await journal.DisposeAsync();
                File.Delete(journalPath!); // the empty journal this refused gather began
            }

            throw new BrokerException($"Job '{job}' is already being gathered by another gather ({await OwnerAsync(connection, job, token)}); one gather per job: wait for it, or stop it and run this one again.", e);
        }

        await using (var note = await connection.ConfirmingChannelAsync(token))
        {
            await Topology.DeclareOwnerAsync(note, job, token);
            await note.BasicPublishAsync(string.Empty, Topology.Owner(job), mandatory: true, new BasicProperties { ContentType = "text/plain" }, System.Text.Encoding.UTF8.GetBytes(holder), token);
        }

        var clock = Stopwatch.StartNew();
        while (!collector.IsComplete(out var accounted, out var total))
        {
            progress?.Report(new CatsDogsProgress("gather", accounted, total));
            if (timeout is { } limit && clock.Elapsed > limit)
            {
                throw new BrokerException(collector.Incomplete(limit, journalPath));
            }

            await Task.Delay(100, token);
        }

        var collected = collector.Snapshot();
        progress?.Report(new CatsDogsProgress("gather", (int)collected.Manifest.Total, (int)collected.Manifest.Total));
        await collector.FinishAsync(channel, token);
        return collected;
    }

    // What the gather holding a job wrote in its note, or what is known without it.
    private static async Task<string> OwnerAsync(BrokerConnection connection, string job, CancellationToken token)
    {
        try
        {
            await using var channel = await connection.ConfirmingChannelAsync(token);
            await Topology.DeclareOwnerAsync(channel, job, token);
            if (await channel.BasicGetAsync(Topology.Owner(job), autoAck: false, token) is { } note)
            {
                await channel.BasicNackAsync(note.DeliveryTag, multiple: false, requeue: true, token); // the note stays for the next one
                return Messages.Quote(System.Text.Encoding.UTF8.GetString(note.Body.Span), 1000)[1..^1];
            }
        }
        catch (Exception e) when (e is AlreadyClosedException or OperationInterruptedException or IOException)
        {
            // The note cannot be read: the refusal still stands.
        }

        return "its connection is named 'catsdogs gather HOST/PID' in rabbitmqctl list_consumers";
    }

    private async Task ConsumeAsync(IChannel channel, string queue, Func<BasicDeliverEventArgs, bool> handle, CancellationToken token)
    {
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += async (_, delivery) =>
        {
            try
            {
                if (handle(delivery))
                {
                    await channel.BasicAckAsync(delivery.DeliveryTag, multiple: false);
                }
            }
            catch (Exception e) when (e is AlreadyClosedException or OperationInterruptedException or IOException)
            {
                // Journaled but not acknowledged: the broker redelivers it after recovery and it counts as a duplicate.
            }
        };
        await channel.BasicConsumeAsync(queue, autoAck: false, consumerTag: string.Empty, noLocal: false, exclusive: true, arguments: null, consumer, token);
    }

    // Each handler records what the delivery says and returns whether to acknowledge it now.
    private bool OnResult(BasicDeliverEventArgs delivery)
    {
        WorkResult result;
        try
        {
            result = Messages.Read<WorkResult>(delivery.Body.Span);
        }
        catch (JsonException e)
        {
            Record(refused: $"an unreadable answer ({Messages.Quote(delivery.BasicProperties.MessageId)}): {Messages.Quote(e.Message)}");
            return true;
        }

        if (result.Job is null || result.Path is null || result.Target is null || result.Worker is null)
        {
            Record(refused: $"an answer ({Messages.Quote(delivery.BasicProperties.MessageId)}) without its job, path, target or worker");
            return true;
        }

        Record(result: result);
        return true;
    }

    private bool OnDead(BasicDeliverEventArgs delivery)
    {
        var properties = delivery.BasicProperties;
        if (Messages.Identify(properties) is not { } who)
        {
            Record(refused: $"a dead-lettered message that names no photo ({properties.MessageId ?? "no id"})");
            return true;
        }

        var reason = Messages.Text(properties, "x-first-death-reason") switch
        {
            "delivery_limit" => "dead-lettered: it failed or stopped every worker that took it, up to the delivery limit (see the workers' logs)",
            "rejected" => "dead-lettered: a worker refused its message as unreadable or meant for another model (see the workers' logs)",
            { } other => $"dead-lettered ({other})",
            null => "dead-lettered",
        };
        Record(dead: new Unanswered(who.Id, who.Path, reason), job: who.Job);
        return true;
    }

    private bool OnManifest(BasicDeliverEventArgs delivery)
    {
        JobManifest manifest;
        try
        {
            manifest = Messages.Read<JobManifest>(delivery.Body.Span);
        }
        catch (JsonException e)
        {
            Record(refused: $"an unreadable manifest: {Messages.Quote(e.Message)}");
            return true;
        }

        if (ManifestError(manifest) is { } error)
        {
            Record(refused: $"a manifest for job '{_job}' that {error}; waiting for scatter's");
            return true;
        }

        Record(manifest: manifest);
        lock (_gate)
        {
            _manifestTag = delivery.DeliveryTag; // kept unacknowledged until the job is complete
        }

        return false;
    }

    // Why a manifest cannot be the job's, or null: every field in range, as scatter writes them.
    private string? ManifestError(JobManifest manifest) =>
        manifest.Job != _job ? $"names job {Messages.Quote(manifest.Job)}"
        : manifest.Total is < 1 or > Messages.MaxPhotos ? $"counts {manifest.Total} photos, outside 1 … {Messages.MaxPhotos:N0}"
        : !Enum.IsDefined(manifest.Kind) ? $"has kind {(int)manifest.Kind}"
        : manifest.Target is null || !Messages.IsSha256(manifest.Target) ? $"has target {Messages.Quote(manifest.Target)}, not a SHA-256"
        : manifest.Skipped is null || manifest.Skipped.Count > manifest.Total ? "lists more skipped photos than it has"
        : manifest.Skipped.Any(s => s is null || s.Id < 0 || s.Id >= manifest.Total || s.Path is null || s.Reason is null) ? "lists a skipped photo outside the job, or without its path or reason"
        : manifest.Skipped.Select(s => s.Id).Distinct().Count() != manifest.Skipped.Count ? "lists a skipped photo twice"
        : null;

    private void Replay(string[] lines, string? path)
    {
        foreach (var line in lines.Where(l => l.Length > 0))
        {
            JournalEntry entry;
            try
            {
                entry = Messages.Read<JournalEntry>(System.Text.Encoding.UTF8.GetBytes(line));
            }
            catch (JsonException)
            {
                continue; // a line cut short by a crash: its delivery was not acknowledged, so it comes again
            }

            if ((entry.Manifest?.Job ?? entry.Result?.Job ?? _job) != _job)
            {
                throw new BrokerException($"The journal '{path}' belongs to job '{entry.Manifest?.Job ?? entry.Result?.Job}', not '{_job}'; give another --out or delete it.");
            }

            Apply(entry);
        }
    }

    private void Record(JobManifest? manifest = null, WorkResult? result = null, Unanswered? dead = null, string? refused = null, string? job = null)
    {
        lock (_gate)
        {
            if (job is not null && job != _job || result is not null && result.Job != _job)
            {
                _refused.Add($"an answer for job '{job ?? result!.Job}' in job '{_job}''s queue");
                return;
            }

            var entry = new JournalEntry(manifest, result, dead, refused);
            if (Apply(entry) && _journal is not null)
            {
                _journal.WriteLine(System.Text.Encoding.UTF8.GetString(Messages.Bytes(entry)));
                _journal.Flush();
                _journalFile!.Flush(flushToDisk: true); // on disk (fsync) before the delivery is acknowledged
            }
        }
    }

    // Applies one entry; false when it changes nothing (a duplicate), so it is not journaled again.
    private bool Apply(JournalEntry entry)
    {
        if (entry.Refused is { } why)
        {
            _refused.Add(why);
            return true;
        }

        if (entry.Manifest is { } manifest)
        {
            if (_manifest is not null)
            {
                return false;
            }

            _manifest = manifest;
            foreach (var (id, result) in _results.ToArray())
            {
                if (Refusal(result) is { } refusal)
                {
                    _results.Remove(id);
                    _refused.Add(refusal);
                }
            }

            return true;
        }

        if (entry.Result is { } answer)
        {
            if (_manifest is not null && Refusal(answer) is { } refusal)
            {
                _refused.Add(refusal);
                return true;
            }

            if (!_results.TryAdd(answer.Id, answer))
            {
                _duplicates++;
                return false;
            }

            _dead.Remove(answer.Id); // an answer beats a dead letter of the same photo (it did get through once)
            return true;
        }

        if (entry.Dead is { } dead)
        {
            if (_results.ContainsKey(dead.Id) || !_dead.TryAdd(dead.Id, dead))
            {
                _duplicates++;
                return false;
            }

            return true;
        }

        return false;
    }

    private string? Refusal(WorkResult result) =>
        result.Target != _manifest!.Target ? $"photo {result.Id} ({result.Path}) answered by worker {result.Worker} running {result.Target[..Math.Min(16, result.Target.Length)]}…, not the job's {_manifest.Target[..16]}…"
        : result.Id < 0 || result.Id >= _manifest.Total ? $"an answer for photo {result.Id}, outside the job's {_manifest.Total} photos"
        : null;

    private bool IsComplete(out int accounted, out int total)
    {
        lock (_gate)
        {
            total = (int)(_manifest?.Total ?? 0);
            accounted = _results.Count + _dead.Count + (_manifest?.Skipped.Count ?? 0);
            return _manifest is not null && accounted >= _manifest.Total && Missing(1).Count == 0;
        }
    }

    private List<long> Missing(int max)
    {
        var missing = new List<long>();
        var skipped = _manifest!.Skipped.Select(s => s.Id).ToHashSet();
        for (long id = 0; id < _manifest.Total && missing.Count < max; id++)
        {
            if (!_results.ContainsKey(id) && !_dead.ContainsKey(id) && !skipped.Contains(id))
            {
                missing.Add(id);
            }
        }

        return missing;
    }

    private string Incomplete(TimeSpan limit, string? journalPath)
    {
        lock (_gate)
        {
            var kept = journalPath is null ? "" : $"; the journal '{journalPath}' keeps what was gathered: run gather again to go on";
            if (_manifest is null)
            {
                var refused = _refused.Count == 0 ? "" : $"; refused: {string.Join("; ", _refused.Take(3))}";
                return $"Job '{_job}' has no manifest after {limit.TotalSeconds:F0} s: scatter has not finished publishing it (or the job name is wrong); {_results.Count} answers gathered so far{refused}{kept}.";
            }

            var missing = Missing(10);
            var left = _manifest.Total - _results.Count - _dead.Count - _manifest.Skipped.Count;
            return $"Job '{_job}': {left} of {_manifest.Total} photos not answered after {limit.TotalSeconds:F0} s (ids {string.Join(", ", missing)}{(left > missing.Count ? ", …" : "")}); are workers running for model {_manifest.Target[..16]}…?{kept}.";
        }
    }

    private CollectedJob Snapshot()
    {
        lock (_gate)
        {
            var unanswered = _dead.Values.Concat(_manifest!.Skipped.Select(s => new Unanswered(s.Id, s.Path, s.Reason))).OrderBy(u => u.Id).ToArray();
            var results = _results.OrderBy(r => r.Key).Select(r => (r.Key, r.Value)).ToArray();
            return new CollectedJob(_manifest, results, unanswered, _duplicates, _refused.ToArray());
        }
    }

    // The job is complete: release the manifest and remove the job's queues (late duplicates have nowhere to go then,
    // and workers drop them). Failures here lose nothing: the journal has the whole job.
    private async Task FinishAsync(IChannel channel, CancellationToken token)
    {
        try
        {
            ulong? tag;
            lock (_gate)
            {
                tag = _manifestTag;
            }

            if (tag is { } t)
            {
                await channel.BasicAckAsync(t, multiple: false, token);
            }

            foreach (var queue in new[] { Topology.Results(_job), Topology.Dead(_job), Topology.Control(_job), Topology.Owner(_job) })
            {
                await channel.QueueDeleteAsync(queue, ifUnused: false, ifEmpty: false, cancellationToken: token);
            }
        }
        catch (Exception e) when (e is AlreadyClosedException or OperationInterruptedException or IOException)
        {
            // The queues stay behind; a rerun of gather completes from the journal and removes them.
        }
    }

    /// <summary>One line of the journal: exactly one member is set.</summary>
    private sealed record JournalEntry(JobManifest? Manifest, WorkResult? Result, Unanswered? Dead, string? Refused);
}
