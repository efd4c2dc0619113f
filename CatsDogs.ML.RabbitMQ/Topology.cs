using RabbitMQ.Client;

namespace CatsDogs.ML.RabbitMQ;

/// <summary>
/// The broker objects, all durable. Work goes through the topic exchange <c>catsdogs.work</c> to one quorum queue
/// per model (scoring, <c>catsdogs.score.{model}</c>) or per feature spec (featurising, <c>catsdogs.features.{spec}</c>),
/// so a worker only ever receives work for the model it runs, and competing workers share each queue. A message
/// delivered more than <see cref="BrokerOptions.MaxDeliveries"/> times (it keeps killing or failing workers) is
/// dead-lettered through <c>catsdogs.dead</c>, routed by its job to <c>catsdogs.job.{job}.dead</c>. Results of a job
/// go to <c>catsdogs.job.{job}.results</c>; its manifest (how many photos, which model) to
/// <c>catsdogs.job.{job}.control</c>. One gather at a time consumes a job's queues, exclusively.
/// </summary>
internal static class Topology
{
    public const string WorkExchange = "catsdogs.work";
    public const string DeadExchange = "catsdogs.dead";

    public static string ScoreQueue(string modelSha256) => $"catsdogs.score.{modelSha256[..16]}";

    public static string FeatureQueue(string specHash) => $"catsdogs.features.{specHash[..16]}";

    public static string Results(string job) => $"catsdogs.job.{job}.results";

    public static string Dead(string job) => $"catsdogs.job.{job}.dead";

    public static string Control(string job) => $"catsdogs.job.{job}.control";

    /// <summary>
    /// The note saying which gather holds the job (its host, process and journal): one message, replaced by each gather
    /// that takes the job, read by a second gather to say who it is refused in favour of.
    /// </summary>
    public static string Owner(string job) => $"catsdogs.job.{job}.owner";

    /// <summary>The queue of <see cref="Owner"/>: not durable (a note about a running process), holding only the newest note.</summary>
    public static Task DeclareOwnerAsync(IChannel channel, string job, CancellationToken token) =>
        channel.QueueDeclareAsync(Owner(job), durable: false, exclusive: false, autoDelete: false,
            new Dictionary<string, object?> { ["x-max-length"] = 1 }, cancellationToken: token);

    /// <summary>The exchanges and a work queue; idempotent, so every party declares what it uses.</summary>
    public static async Task DeclareWorkAsync(IChannel channel, string queue, int maxDeliveries, CancellationToken token)
    {
        await channel.ExchangeDeclareAsync(WorkExchange, ExchangeType.Topic, durable: true, autoDelete: false, cancellationToken: token);
        await channel.ExchangeDeclareAsync(DeadExchange, ExchangeType.Topic, durable: true, autoDelete: false, cancellationToken: token);
        await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, new Dictionary<string, object?>
        {
            ["x-queue-type"] = "quorum",
            ["x-delivery-limit"] = maxDeliveries,
            ["x-dead-letter-exchange"] = DeadExchange,
        }, cancellationToken: token);
        await channel.QueueBindAsync(queue, WorkExchange, $"{queue}.#", cancellationToken: token);
    }

    /// <summary>A job's results, dead letters and control queues.</summary>
    public static async Task DeclareJobAsync(IChannel channel, string job, CancellationToken token)
    {
        await channel.ExchangeDeclareAsync(DeadExchange, ExchangeType.Topic, durable: true, autoDelete: false, cancellationToken: token);
        foreach (var queue in new[] { Results(job), Dead(job), Control(job) })
        {
            await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false, cancellationToken: token);
        }

        await channel.QueueBindAsync(Dead(job), DeadExchange, $"#.{job}", cancellationToken: token);
    }

    /// <summary>The routing key of a job's work on a queue: the queue, then the job (dead letters keep it, so they find the job).</summary>
    public static string RoutingKey(string queue, string job) => $"{queue}.{job}";

    /// <summary>A job name safe in queue names and routing keys.</summary>
    /// <exception cref="ArgumentException">The name is empty, too long or has other characters than letters, digits, '-' and '_'.</exception>
    public static string CheckJob(string job) =>
        job is not null && Messages.IsJobName(job)
            ? job
            : throw new ArgumentException($"Job name {Messages.Quote(job)} must be 1–64 ASCII letters, digits, '-' or '_'.");
}
