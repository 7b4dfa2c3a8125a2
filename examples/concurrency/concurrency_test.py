import json
import time

def lambda_handler(event, context):
    """
    Simulates long-running function to demonstrate concurrency
    """
    duration = event.get('duration', 10)

    print(f"Starting execution, will run for {duration} seconds")
    time.sleep(duration)
    print("Execution complete")

    return {
        'statusCode': 200,
        'body': json.dumps({
            'message': f'Completed after {duration} seconds',
            'requestId': context.aws_request_id
        })
    }
