using System.Diagnostics;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace CatsDogs.ML.RabbitMQ;

/// <summary>What a worker did before it stopped.</summary>
/// <param name="Queue">The queue it consumed.</param>
/// <param name="Done">Photos answered (scored, featurised, or reported unusable) and acknowledged.</param>
/// <param name="Unusable">Of those, photos the library could not use (the answer carries its reason).</param>
/// <param name="Returned">Photos given back to the queue because scoring failed for another reason.</param>
/// <param name="Rejected">Messages refused as unreadable or meant for another model (dead-lettered at once).</param>
public sealed record WorkerSummary(string Queue, long Done, long Unusable, long Returned, long Rejected);

/// <summary>How one kind of worker answers one photo.</summary>
internal interface IWorkHandler
{
    JobKind Kind { get; }

    /// <summary>The model SHA-256 or feature identity this worker runs; orders for another are refused.</summary>
    string Target { get; }

    /// <summary>The answer for one photo; unusable photos are answers (with the library's reason), not exceptions.</summary>
    /// <exception cref="Exception">Anything else: the photo goes back to the queue for another try.</exception>
    WorkResult Handle(WorkOrder order, ReadOnlyMemory<byte> body, string worker);
}

/// <summary>
/// The consuming loop every worker runs: competing consumers on the target's queue, at most
/// <see cref="BrokerOptions.Prefetch"/> unacknowledged photos, <see cref="BrokerOptions.Concurrency"/> handled at once;
/// each answer is published with a publisher confirm, and only then is the photo acknowledged, so a worker that dies
/// at any point loses nothing (the broker redelivers what it had not acknowledged). On stop it cancels its consumer,
/// finishes what it already holds (up to <see cref="DrainTimeout"/>) and closes, which returns anything left.
/// </summary>
internal static class WorkerLoop
{
    public static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(60);

    public static async Task<WorkerSummary> RunAsync(IWorkHandler handler, BrokerOptions options, TextWriter log, CancellationToken stop)
    {
        var queue = handler.Kind == JobKind.Score ? Topology.ScoreQueue(handler.Target) : Topology.FeatureQueue(handler.Target);
        var name = options.ClientName ?? $"{Environment.MachineName}/{Environment.ProcessId}";
        await using var broker = await BrokerConnection.OpenAsync(options, "worker", stop);
        await using var publisher = await broker.ConfirmingChannelAsync(stop);
        await Topology.DeclareWorkAsync(publisher, queue, options.MaxDeliveries, stop);
        await using var consuming = await broker.ConsumingChannelAsync(options.EffectiveConcurrency, stop);
        await consuming.BasicQosAsync(0, options.EffectivePrefetch, global: false, stop);

        long received = 0, finished = 0, done = 0, unusable = 0, returned = 0, rejected = 0;
        var consumer = new AsyncEventingBasicConsumer(consuming);
        consumer.ReceivedAsync += async (_, delivery) =>
        {
            Interlocked.Increment(ref received);
            try
            {
                switch (await HandleAsync(handler, delivery, consuming, publisher, name, log))
                {
                    case Outcome.Done:
                        Interlocked.Increment(ref done);
                        break;
                    case Outcome.Unusable:
                        Interlocked.Increment(ref done);
                        Interlocked.Increment(ref unusable);
                        break;
                    case Outcome.Returned:
                        Interlocked.Increment(ref returned);
                        break;
                    case Outcome.Rejected:
                        Interlocked.Increment(ref rejected);
                        break;
                }
            }
            finally
            {
                Interlocked.Increment(ref finished);
            }
        };

        var tag = await consuming.BasicConsumeAsync(queue, autoAck: false, consumer, stop);
        log.WriteLine($"worker {name}: consuming {queue} on {options} ({options.EffectiveConcurrency} at once, prefetch {options.EffectivePrefetch}); SIGTERM or Ctrl+C stops it after the photos it holds.");
        try
        {
            var reported = 0L;
            while (true)
            {
                await Task.Delay(TimeSpan.FromSeconds(10), stop);
                if (Interlocked.Read(ref done) is var now && now != reported)
                {
                    reported = now;
                    log.WriteLine($"worker {name}: {now} done ({Interlocked.Read(ref unusable)} unusable), {Interlocked.Read(ref returned)} returned, {Interlocked.Read(ref rejected)} rejected.");
                }
            }
        }
        catch (OperationCanceledException)
        {
            log.WriteLine($"worker {name}: stopping; finishing the photos it holds.");
        }

        await CancelConsumerAsync(consuming, tag, log);
        await DrainAsync(() => Interlocked.Read(ref received), () => Interlocked.Read(ref finished));
        var summary = new WorkerSummary(queue, done, unusable, returned, rejected);
        log.WriteLine($"worker {name}: stopped: {summary.Done} done ({summary.Unusable} unusable), {summary.Returned} returned to the queue, {summary.Rejected} rejected.");
        return summary;
    }

    private enum Outcome
    {
        Done,
        Unusable,
        Returned,
        Rejected,
        Lost,
    }

    private static async Task<Outcome> HandleAsync(IWorkHandler handler, BasicDeliverEventArgs delivery, IChannel consuming, IChannel publisher, string name, TextWriter log)
    {
        try
        {
            WorkOrder order;
            try
            {
                order = Messages.Order(delivery.BasicProperties);
                if (order.Kind != handler.Kind || order.Target != handler.Target)
                {
                    throw new FormatException($"it is {order.Kind.ToString().ToLowerInvariant()} work for {order.Target[..Math.Min(16, order.Target.Length)]}…, and this worker runs {handler.Kind.ToString().ToLowerInvariant()} for {handler.Target[..16]}…");
                }
            }
            catch (FormatException e)
            {
                // Retrying cannot help a message no worker can read: dead-letter it now, and gather reports it.
                log.WriteLine($"worker {name}: rejected message {delivery.BasicProperties.MessageId ?? "(no id)"}: {e.Message}.");
                await consuming.BasicRejectAsync(delivery.DeliveryTag, requeue: false);
                return Outcome.Rejected;
            }

            WorkResult result;
            try
            {
                result = handler.Handle(order, delivery.Body, name);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Not the photo's fault as far as we can tell (e.g. a runtime failure): another worker may succeed. The
                // broker counts deliveries and dead-letters the photo after the limit, so a photo that always fails ends.
                log.WriteLine($"worker {name}: {order.Path}: {e.GetType().Name}: {e.Message}; returned to the queue.");
                await consuming.BasicNackAsync(delivery.DeliveryTag, multiple: false, requeue: true);
                return Outcome.Returned;
            }

            try
            {
                await publisher.BasicPublishAsync(string.Empty, Topology.Results(order.Job), mandatory: true,
                    Messages.Persistent(order.Job, order.Id, "application/json"), Messages.Bytes(result));
            }
            catch (PublishException e) when (e.IsReturn)
            {
                // The job's results queue is gone: gather finished and removed it, so this answer is not wanted.
                log.WriteLine($"worker {name}: job {order.Job} has no results queue any more (already gathered); dropping photo {order.Id}.");
            }

            await consuming.BasicAckAsync(delivery.DeliveryTag, multiple: false);
            return result.Error is null ? Outcome.Done : Outcome.Unusable;
        }
        catch (Exception e) when (e is AlreadyClosedException or OperationInterruptedException or PublishException or IOException or ObjectDisposedException)
        {
            // The connection dropped (or the broker refused the publish) before the acknowledgement: the broker
            // redelivers the photo, and gather drops the duplicate answer if the first one did arrive.
            log.WriteLine($"worker {name}: lost the broker while answering message {delivery.BasicProperties.MessageId}: {e.Message}; it will be redelivered.");
            return Outcome.Lost;
        }
    }

    private static async Task CancelConsumerAsync(IChannel channel, string tag, TextWriter log)
    {
        try
        {
            await channel.BasicCancelAsync(tag, noWait: false).WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is AlreadyClosedException or OperationInterruptedException or TimeoutException or IOException)
        {
            log.WriteLine($"worker: could not cancel the consumer cleanly ({e.Message}); closing returns its photos.");
        }
    }

    // Deliveries already received when the consumer was cancelled are still dispatched: wait until every one that
    // arrived has finished and none has arrived for a moment, at most DrainTimeout.
    private static async Task DrainAsync(Func<long> received, Func<long> finished)
    {
        var clock = Stopwatch.StartNew();
        var quiet = Stopwatch.StartNew();
        var seen = received();
        while (clock.Elapsed < DrainTimeout)
        {
            var now = received();
            if (now != seen)
            {
                seen = now;
                quiet.Restart();
            }

            if (finished() == now && quiet.Elapsed > TimeSpan.FromMilliseconds(300))
            {
                return;
            }

            await Task.Delay(50);
        }
    }
}
