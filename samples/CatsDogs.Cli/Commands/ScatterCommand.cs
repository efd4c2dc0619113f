using System.CommandLine;
using CatsDogs.Cli.Options;
using CatsDogs.ML.RabbitMQ;

namespace CatsDogs.Cli.Commands;

/// <summary><c>catsdogs scatter</c>: publish one message per photo of a folder for workers to score.</summary>
internal static class ScatterCommand
{
    public static Command Create(Cli cli)
    {
        var folder = new Argument<string>("file-or-dir") { Description = "A photo, or a folder listed recursively (the order of 'predict')." };
        var job = new Option<string>("--job") { Description = "A name for the job (letters, digits, '-', '_'); gather it with the same name.", Required = true };
        var inline = new Option<bool>("--inline") { Description = "Send the photos' bytes in the messages instead of their paths (workers without the shared storage)." };
        var maxInline = new Option<int>("--max-inline-bytes") { Description = $"With --inline: larger photos are reported as skipped (at most {BrokerOptions.MaxMessageBodyBytes >> 20} MiB, the largest message a worker accepts).", DefaultValueFactory = _ => 8 << 20 };
        var model = new Option<string>("--model") { Description = "The model the workers run (its SHA-256 picks their queue).", Required = true };
        var command = new Command("scatter", "Publish one message per photo to a RabbitMQ broker, for 'catsdogs worker --model' processes to score; then 'gather' the job.")
        {
            folder, job, model, inline, maxInline,
        };
        var brokerOptions = new BrokerCliOptions(required: true).AddTo(command);
        cli.SetAction(command, (parse, token) =>
        {
            var broker = brokerOptions.Build(parse) with { MaxInlineBytes = parse.GetValue(maxInline) };
            var photos = Photos.At(parse.GetRequiredValue(folder), token);
            var summary = cli.WithProgress(progress => BrokerJobs.ScatterAsync(photos, parse.GetRequiredValue(job), parse.GetRequiredValue(model), parse.GetValue(inline), broker.Validate(), progress, token).GetAwaiter().GetResult());
            cli.ReportSkipped(summary.Skipped);
            cli.Error.WriteLine($"Published {summary.Published} photos to {summary.Queue} as job '{summary.Job}' ({summary.Skipped.Count} not sent, listed {photos.Count}); collect them with: catsdogs gather --job {summary.Job} --out preds.csv");
            cli.WriteJson(new { summary.Job, summary.Queue, summary.Published, Skipped = summary.Skipped.Count, Listed = photos.Count });
            return 0;
        });
        return command;
    }
}
